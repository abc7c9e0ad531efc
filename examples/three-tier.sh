#!/usr/bin/env bash
# Scenario: a three-tier web application in one VPC (tutorials 001/003).
# web (public) -> app -> db, each tier locked down by a security-group
# policy from examples/policies/. Runs in a sandbox: sudo examples/three-tier.sh
source "$(dirname "$0")/lib.sh"
policies="$repo/examples/policies"

step "VPC 'shop' with a public web tier and private app and db tiers"
run create-vpc --name shop --cidr 10.30.0.0/16
run add-subnet --vpc shop --name web --cidr 10.30.1.0/24 --public
run add-subnet --vpc shop --name app --cidr 10.30.2.0/24
run add-subnet --vpc shop --name db --cidr 10.30.3.0/24
run enable-nat --vpc shop --interface uplink0

step "An app in each tier"
run deploy-app --vpc shop --subnet web --port 80
run deploy-app --vpc shop --subnet app --port 8080
run deploy-app --vpc shop --subnet db --port 5432

step "Before policies, everything inside the VPC is open"
expect yes shop db 10.30.1.2 80
expect yes shop web 10.30.3.2 5432

step "Lock each tier down"
run apply-policy --vpc shop --subnet web --policy "$policies/web.json"
run apply-policy shop "$policies/app.json"
run apply-firewall shop db "$policies/db.json"

step "What the policies allow"
expect yes shop web 10.30.2.2 8080          # web -> app
expect yes shop app 10.30.3.2 5432          # app -> db
expect yes shop web 198.51.100.80 80        # web -> internet, through NAT
printf '$ curl http://10.30.1.2/   (from the host)\n'
curl -s -m 2 http://10.30.1.2/

step "What they block"
expect no shop web 10.30.3.2 5432           # web cannot skip the app tier
expect no shop db 10.30.2.2 8080            # db starts nothing
expect no shop db 10.30.1.2 80
expect no shop app 10.30.1.2 80             # app may only talk to db
expect no shop app 198.51.100.80 80         # private: no NAT, and egress denied

step "Names: every subnet is <subnet>.shop.internal, from the VPC's resolver"
printf '$ vpcctl exec shop web -- getent hosts app.shop.internal\n'
"$V" exec shop web -- getent hosts app.shop.internal || fail "web cannot resolve app.shop.internal"
printf '$ vpcctl exec shop app -- curl http://db:5432/   (search domain shop.internal)\n'
"$V" exec shop app -- curl -s -m 2 http://db:5432/ || fail "app cannot reach db by name"
echo

step "A network ACL at the db tier's edge: stateless, enforced outside the subnet"
run apply-nacl --vpc shop --subnet db --nacl "$repo/examples/nacls/db.json"
expect yes shop app 10.30.3.2 5432          # allowed in, replies allowed out
expect no shop web 10.30.3.2 5432           # denied at the edge as well
printf '$ vpcctl exec shop db -- iptables -F   (root in db flushes its own rules)\n'
"$V" exec shop db -- iptables -F
expect no shop web 10.30.3.2 5432           # the NACL is not in db's reach

step "The whole VPC at a glance"
"$V" test-connectivity --matrix --port 8080

step "Clean up"
run delete shop
finish
