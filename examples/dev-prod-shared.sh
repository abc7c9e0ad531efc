#!/usr/bin/env bash
# Scenario: dev and prod isolated from each other, both peered with a
# shared-services VPC (tutorial 003). Peering is not transitive, so shared
# services never become a bridge between dev and prod.
# Runs in a sandbox: sudo examples/dev-prod-shared.sh
source "$(dirname "$0")/lib.sh"

step "Three VPCs"
run create dev --cidr 10.50.0.0/16
run add-subnet dev web --cidr 10.50.1.0/24
run add-subnet dev db --cidr 10.50.2.0/24
run create prod --cidr 10.60.0.0/16
run add-subnet prod web --cidr 10.60.1.0/24
run add-subnet prod db --cidr 10.60.2.0/24
run create shared --cidr 10.70.0.0/16
run add-subnet shared logging --cidr 10.70.1.0/24
run add-subnet shared monitoring --cidr 10.70.2.0/24
run deploy-app shared logging --port 514
run deploy-app shared monitoring --port 9090

step "Unpeered VPCs are isolated"
expect no dev web 10.60.1.2
expect no prod web 10.50.1.2
expect no dev web 10.70.1.2 514

step "Peer dev and prod with shared services; prod only from its web tier to logging"
run peer --a dev --b shared
run peer --a prod --b shared --allow-cidrs 10.60.1.0/24,10.70.1.0/24
expect yes dev web 10.70.1.2 514
expect yes dev db 10.70.2.2 9090
expect yes prod web 10.70.1.2 514
expect no prod db 10.70.1.2 514             # not in the allowed CIDRs
expect no prod web 10.70.2.2 9090           # monitoring is not allowed for prod

step "Not transitive: dev and prod still cannot reach each other"
expect no dev web 10.60.1.2
expect no prod web 10.50.1.2
expect no dev db 10.60.2.2

step "The whole picture"
run list
"$V" test-connectivity --matrix

step "Clean up"
run teardown-all --auto-approve
finish
