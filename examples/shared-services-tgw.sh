#!/usr/bin/env bash
# Scenario: shared services through a transit gateway. dev and prod are
# associated with the "spokes" table, which learns only shared; shared is
# associated with "hub", which learns dev and prod. So dev and prod reach
# shared, and not each other. Then a blackhole in hub cuts prod.
# Runs in a sandbox: sudo examples/shared-services-tgw.sh
source "$(dirname "$0")/lib.sh"

step "Three VPCs, each routing 10.0.0.0/8 to the transit gateway"
run create-vpc dev --cidr 10.110.0.0/16
run add-subnet dev app --cidr 10.110.1.0/24
run create-vpc prod --cidr 10.120.0.0/16
run add-subnet prod app --cidr 10.120.1.0/24
run create-vpc shared --cidr 10.130.0.0/16
run add-subnet shared logging --cidr 10.130.1.0/24
run deploy-app shared logging --port 514
run create-transit-gateway --name hub-tgw
for v in dev prod shared; do
    run attach-transit-gateway --transit-gateway hub-tgw --vpc "$v"
    run create-route --vpc "$v" --route-table main --destination 10.0.0.0/8 --transit-gateway hub-tgw
done
expect no dev app 10.130.1.2 514              # no TGW route table yet

step "Two TGW route tables: spokes learn shared, hub learns the spokes"
run create-transit-gateway-route-table --transit-gateway hub-tgw --name spokes
run create-transit-gateway-route-table --transit-gateway hub-tgw --name hub
for v in dev prod; do
    run associate-transit-gateway-route-table --transit-gateway hub-tgw --route-table spokes --vpc "$v"
    run enable-transit-gateway-route-table-propagation --transit-gateway hub-tgw --route-table hub --vpc "$v"
done
run associate-transit-gateway-route-table --transit-gateway hub-tgw --route-table hub --vpc shared
run enable-transit-gateway-route-table-propagation --transit-gateway hub-tgw --route-table spokes --vpc shared
run describe-transit-gateways
expect yes dev app 10.130.1.2 514
expect yes prod app 10.130.1.2 514
expect no dev app 10.120.1.2
expect no prod app 10.110.1.2
"$V" test-connectivity --from dev/app --to 10.120.1.2 --explain || true

step "A blackhole in hub cuts prod off from shared (its replies have no way back)"
run create-transit-gateway-route --transit-gateway hub-tgw --route-table hub --destination 10.120.0.0/16 --blackhole
expect no prod app 10.130.1.2 514
expect yes dev app 10.130.1.2 514

step "Clean up"
run teardown-all --auto-approve
finish
