#!/usr/bin/env bash
# Scenario: a three-tier design as AWS users draw it, with instances and
# security groups. Two web instances behind an internet gateway; the app
# tier admits 8080 from members of web only; the database admits 5432
# from members of app only and sends nothing out. Groups follow their
# members: a new web instance is admitted at once, a terminated one is not.
# The same design as a file: examples/topologies/three-tier-groups.json.
# Runs in a sandbox: sudo examples/three-tier-groups.sh
source "$(dirname "$0")/lib.sh"

step "A VPC with three subnets; web is public through an internet gateway"
run create-vpc store --cidr 10.40.0.0/16
run add-subnet store web --cidr 10.40.1.0/24 --public
run add-subnet store app --cidr 10.40.2.0/24
run add-subnet store db --cidr 10.40.3.0/24
run create-internet-gateway --vpc store --interface uplink0
run create-route-table --vpc store --name public
run create-route --vpc store --route-table public --destination 0.0.0.0/0 --gateway igw
run associate-route-table --vpc store --route-table public --subnet web

step "Three groups: each tier admits only the one in front of it"
for g in web app db; do run create-security-group --vpc store --group "$g"; done
run authorize-security-group-ingress --vpc store --group web --protocol tcp --port 80 --cidr 0.0.0.0/0
run authorize-security-group-ingress --vpc store --group app --protocol tcp --port 8080 --source-group web
run authorize-security-group-ingress --vpc store --group db --protocol tcp --port 5432 --source-group app
run revoke-security-group-egress --vpc store --group db --protocol all --cidr 0.0.0.0/0
run describe-security-groups --vpc store

step "Instances: two web, one app, one database at a fixed address"
run run-instance --vpc store --subnet web --name web1 --security-groups web
run run-instance --vpc store --subnet web --name web2 --security-groups web
run run-instance --vpc store --subnet app --name app1 --security-groups app
run run-instance --vpc store --subnet db --name db1 --security-groups db --ip 10.40.3.10
run deploy-app --vpc store --instance app1 --port 8080
run deploy-app --vpc store --instance db1 --port 5432
run describe-instances

step "Each tier reaches the next, and nothing skips one"
expect yes store web1 10.40.2.4 8080
expect yes store web2 10.40.2.4 8080
expect yes store app1 10.40.3.10 5432
expect no store web1 10.40.3.10 5432           # web cannot skip the app tier
expect no store app 10.40.2.4 8080             # the subnet's own namespace is in no group
expect yes store web1 198.51.100.80 80         # web goes out through the internet gateway
expect no store db1 198.51.100.80 80           # db sends nothing out
"$V" test-connectivity --from store/web1 --to 10.40.3.10 --port 5432 --explain || true

step "Membership follows at once"
run run-instance --vpc store --subnet web --name web3 --security-groups web
expect yes store web3 10.40.2.4 8080
run terminate-instance --vpc store --instance web3
run run-instance --vpc store --subnet web --name intruder --ip 10.40.1.6
expect no store intruder 10.40.2.4 8080        # web3's old address counts for nothing

step "The same design from a file, checked against its own expectations"
run teardown-all --auto-approve
run apply -f "$repo/examples/topologies/three-tier-groups.json"
if "$V" check -f "$repo/examples/topologies/three-tier-groups.json"; then echo "   ok   every expectation in the file holds"
else fail "check -f found an expectation that does not hold"; fi

step "Clean up"
run teardown-all --auto-approve
finish
