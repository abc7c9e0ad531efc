#!/usr/bin/env bash
# Scenario: a Terraform network, imported. main.tf is a three-tier design;
# show.json is what `terraform show -json` prints for it once applied
# (written by hand to the format, see its "//" key). vpcctl imports it,
# builds it, and checks it with real packets against expectations the user
# writes beside it (expect.json): Terraform has no apps, so they are
# deployed here. Runs in a sandbox: sudo examples/terraform/import.sh
source "$(dirname "$0")/../lib.sh"
here="$repo/examples/terraform"
scratch=${SANDBOX_TMP:-/tmp}

step "Import: what is not a network resource is listed, not refused"
run import terraform "$here/show.json" --out "$scratch/net.json"

step "Build it, as any topology file"
run apply -f "$scratch/net.json"
run describe-instances
run describe-route-tables --vpc shop

step "A second import changes nothing"
run import terraform "$here/show.json" --out "$scratch/again.json"
if "$V" plan -f "$scratch/again.json" --detailed-exitcode >/dev/null; then echo "   ok   plan: no changes"
else fail "a second import should plan nothing"; fi

step "Apps (not in Terraform), then the expectations, with real packets"
run deploy-app --vpc shop --instance web1 --port 80
run deploy-app --vpc shop --instance app1 --port 8080
run deploy-app --vpc shop --instance db1 --port 5432
if "$V" check -f "$here/expect.json"; then echo "   ok   every expectation in expect.json holds"
else fail "check -f found an expectation that does not hold"; fi
"$V" test-connectivity --from shop/web1 --to db1 --port 5432 --explain || true

step "Clean up"
run teardown-all --auto-approve
finish
