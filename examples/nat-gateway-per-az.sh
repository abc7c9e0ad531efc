#!/usr/bin/env bash
# Scenario: the canonical AWS design. Public subnets in two zones route to
# the internet gateway; each zone's private app subnet leaves through the
# NAT gateway of its own zone, seen from the internet as that gateway's
# elastic IP; the database subnet keeps only the local route.
# Runs in a sandbox: sudo examples/nat-gateway-per-az.sh
source "$(dirname "$0")/lib.sh"
sees() {   # sees SUBNET ADDR: the fake internet sees SUBNET's traffic from ADDR
    local body
    body=$("$V" exec prod "$1" -- curl -s -m 3 http://198.51.100.80/ 2>&1 || true)
    if [[ $body == *"you are $2" ]]; then printf '   ok   %-40s %s\n' "prod/$1 -> internet" "seen as $2"
    else fail "prod/$1 -> internet: expected to be seen as $2, got: $body"; fi
}

step "One VPC, two zones: public, app and a database"
run create-vpc prod --cidr 10.80.0.0/16
run add-subnet prod public-a --cidr 10.80.1.0/24 --public
run add-subnet prod public-b --cidr 10.80.2.0/24 --public
run add-subnet prod app-a --cidr 10.80.11.0/24
run add-subnet prod app-b --cidr 10.80.12.0/24
run add-subnet prod db --cidr 10.80.21.0/24

step "An internet gateway, and a route table that makes the public subnets public"
run create-internet-gateway --vpc prod --interface uplink0
expect no prod public-a 198.51.100.80 80      # a gateway alone opens nothing
run create-route-table --vpc prod --name public
run create-route --vpc prod --route-table public --destination 0.0.0.0/0 --gateway igw
run associate-route-table --vpc prod --route-table public --subnet public-a
run associate-route-table --vpc prod --route-table public --subnet public-b
expect yes prod public-a 198.51.100.80 80

step "A NAT gateway per zone, each with its elastic IP, and a route table per zone"
run create-nat-gateway --vpc prod --subnet public-a --name ngw-a --eip 203.0.113.21
run create-nat-gateway --vpc prod --subnet public-b --name ngw-b --eip 203.0.113.22
for z in a b; do
    run create-route-table --vpc prod --name "private-$z"
    run create-route --vpc prod --route-table "private-$z" --destination 0.0.0.0/0 --nat-gateway "ngw-$z"
    run associate-route-table --vpc prod --route-table "private-$z" --subnet "app-$z"
done
run describe-route-tables --vpc prod
run describe-nat-gateways
sees app-a 203.0.113.21
sees app-b 203.0.113.22
sees public-a 203.0.113.2
expect no prod db 198.51.100.80 80            # only the local route
expect yes prod app-a 10.80.21.2               # local always wins

step "Why: the analyzer names the table and the route"
"$V" test-connectivity --from prod/app-a --to 198.51.100.80 --port 80 --explain || true
"$V" test-connectivity --from prod/db --to 198.51.100.80 --port 80 --explain || true

step "Zone b loses its NAT gateway's route: app-b is cut, app-a is not"
run delete-route --vpc prod --route-table private-b --destination 0.0.0.0/0
expect no prod app-b 198.51.100.80 80
sees app-a 203.0.113.21

step "Clean up"
run teardown-all --auto-approve
finish
