#!/usr/bin/env bash
# Benchmark vpcctl against the floor: the same kernel objects and rules made
# by hand with the cheapest shell-outs (one root `ip -batch`, one
# `ip -n NS -batch`, one `iptables-restore --noflush`, one
# `ebtables-restore --noflush` for the ports' anti-spoofing rules, one
# `bridge -batch` for the ports' static FDB entries). Runs in a private
# sandbox, prints a table, and exits 0 whatever the numbers: it reports, it
# does not gate.
#
#   sudo scripts/bench.sh            # N=40 subnets, 3 repetitions
#   sudo N=20 REPS=1 scripts/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" != "__bench" ]]; then
    [[ $EUID -eq 0 ]] || { echo "scripts/bench.sh: run as root: sudo $0" >&2; exit 1; }
    scripts/deps.sh
    [[ -x /usr/bin/time ]] || { apt-get update -qq && apt-get install -y -qq time >/dev/null 2>&1; } || true
    echo "==> building vpcctl (release)"
    cargo build --release --locked --quiet
    export VPCCTL_BIN="$PWD/target/release/vpcctl"
    exec scripts/sandbox.sh "$0" __bench
fi

V=$VPCCTL_BIN
N=${N:-40}
REPS=${REPS:-3}
export VPCCTL_STATE_DIR=/var/lib/vpcctl

now_us() { local t=${EPOCHREALTIME/./}; echo "$t"; }   # no process spawned
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
ms() { awk -v u="$1" 'BEGIN { printf "%.1f", u / 1000 }'; }
row() { printf '%-44s %12s %14s %7s  %s\n' "$@"; }

# ---------------------------------------------------------------- the floor
floor_rules() {   # $1 = bridge: the VPC chain, dispatch and jump, one restore
    iptables-restore --noflush -w <<R
*filter
:VPCCTL-FWD-f - [0:0]
-A VPCCTL-FWD-f -i $1 -o $1 -m comment --comment "floor" -j ACCEPT
-A VPCCTL-FWD-f -m comment --comment "floor" -j DROP
:VPCCTL-FORWARD - [0:0]
-A VPCCTL-FORWARD -i $1 -j VPCCTL-FWD-f
-A VPCCTL-FORWARD -o $1 -j VPCCTL-FWD-f
-I FORWARD 1 -m comment --comment vpcctl -j VPCCTL-FORWARD
COMMIT
R
    # Anti-spoofing: the bridge family's chain and jumps (rules per port below).
    printf '*filter\n:FAS RETURN\n-I INPUT 1 -j FAS\n-I FORWARD 1 -j FAS\nCOMMIT\n' | ebtables-restore --noflush
}
floor_mac() {   # $1 = index -> the subnet's fixed MAC (as vpcctl: 02:76:<address>)
    printf '02:76:0a:63:%02x:02' "$1"
}
floor_port() {   # $1 = veth, $2 = its address, $3 = its MAC: the 3 anti-spoofing rules
    printf -- '-A FAS -p IPv4 -s %s -i %s --ip-src %s -j RETURN\n-A FAS -p ARP -s %s -i %s --arp-ip-src %s --arp-mac-src %s -j RETURN\n-A FAS -i %s -j DROP\n' \
        "$3" "$1" "$2" "$3" "$1" "$2" "$3" "$1"
}
floor_vpc() {   # $1 = bridge, $2 = cidr
    floor_rules "$1"
    ip -batch - <<B
link add $1 address 02:00:00:00:00:01 type bridge
link set $1 up
route add unreachable $2
B
    # The VPC's resolver, as vpcctl runs it (without waiting for it).
    mkdir -p $SANDBOX_TMP/fdns/hosts; : > $SANDBOX_TMP/fdns/hosts/hosts
    dnsmasq --keep-in-foreground --conf-file=/dev/null --no-hosts --hostsdir=$SANDBOX_TMP/fdns/hosts \
        --interface="$1" --except-interface=lo --bind-dynamic --local=/internal/ --domain-needed --bogus-priv \
        --resolv-file=/etc/resolv.conf --pid-file= --user=nobody --group=nogroup --log-facility=- \
        > $SANDBOX_TMP/fdns/log 2>&1 &
    echo $! > $SANDBOX_TMP/fdns/pid
}
floor_subnet() {   # $1 = bridge, $2 = index
    local mac; mac=$(floor_mac "$2")
    ip -batch - <<B
netns add fns-$2
link add fv-$2 type veth peer name eth0 address $mac netns fns-$2
link set fv-$2 master $1 up
link set fv-$2 type bridge_slave learning off flood off isolated on
addr add 10.99.$2.1/24 dev $1
B
    echo "fdb replace $mac dev fv-$2 master static" | bridge -batch -
    ip -n "fns-$2" -batch - <<B
link set lo up
addr add 10.99.$2.2/24 dev eth0
link set eth0 up
route add default via 10.99.$2.1
B
    { echo '*filter'; floor_port "fv-$2" "10.99.$2.2" "$mac"; echo COMMIT; } | ebtables-restore --noflush
    # Its name, for the resolver (a shell builtin: no process). The
    # namespace's resolv.conf is left out: microseconds for vpcctl, but
    # a mkdir process here.
    echo "10.99.$2.2 s$2.f.internal" >> $SANDBOX_TMP/fdns/hosts/hosts
}
floor_delete() {   # $1 = bridge, $2 = cidr, $3 = n
    if [[ -f $SANDBOX_TMP/fdns/pid ]]; then kill "$(< $SANDBOX_TMP/fdns/pid)"; rm -f $SANDBOX_TMP/fdns/pid; fi
    { for i in $(seq "$3"); do echo "netns del fns-$i"; done
      echo "route del unreachable $2"; echo "link del $1"; } | ip -force -batch -
    floor_rules_delete 1
}
floor_rules_delete() {   # $1 = how many floors jumped to VPCCTL-FORWARD: their jumps, then the chains
    { echo "*filter"
      for _ in $(seq "$1"); do echo "-D FORWARD -m comment --comment vpcctl -j VPCCTL-FORWARD"; done
      printf ':VPCCTL-FORWARD - [0:0]\n:VPCCTL-FWD-f - [0:0]\n-X VPCCTL-FWD-f\n-X VPCCTL-FORWARD\nCOMMIT\n'; } | iptables-restore --noflush -w
    { echo "*filter"
      for _ in $(seq "$1"); do echo "-D INPUT -j FAS"; echo "-D FORWARD -j FAS"; done
      printf ':FAS RETURN\n-X FAS\nCOMMIT\n'; } | ebtables-restore --noflush
}

# ------------------------------------------------------------- routing
# A route change against one `ip -batch` call; create-nat-gateway against
# add-subnet; a 400-subnet topology with route tables against its bulk
# floor (below). ROUTING_ONLY=1 runs this part alone.
routing_bench() {
    "$V" -q create-vpc rt 10.96.0.0/16
    "$V" -q add-subnet rt pub 10.96.1.0/24 --public
    "$V" -q add-subnet rt priv 10.96.2.0/24
    "$V" -q create-internet-gateway --vpc rt --interface uplink0
    "$V" -q create-route-table --vpc rt --name private
    "$V" -q associate-route-table --vpc rt --route-table private --subnet priv
    "$V" -q create-route --vpc rt --route-table private --destination 198.51.100.0/24 --blackhole
    local RC=() RF=() NG=() AS=()
    for rep in $(seq $((REPS * 5))); do
        t0=$(now_us); "$V" -q create-route --vpc rt --route-table private --destination 192.0.2.0/24 --blackhole; t1=$(now_us); RC+=($((t1 - t0)))
        "$V" -q delete-route --vpc rt --route-table private --destination 192.0.2.0/24
        t0=$(now_us); echo "route replace blackhole 192.0.2.0/24 table 4242" | ip -batch -; t1=$(now_us); RF+=($((t1 - t0)))
        ip route del blackhole 192.0.2.0/24 table 4242
    done
    for rep in $(seq $((REPS * 3))); do
        t0=$(now_us); "$V" -q create-nat-gateway --vpc rt --subnet pub --name ngw; t1=$(now_us); NG+=($((t1 - t0)))
        "$V" -q delete-nat-gateway --vpc rt --name ngw
        t0=$(now_us); "$V" -q add-subnet rt extra 10.96.3.0/24; t1=$(now_us); AS+=($((t1 - t0)))
        "$V" -q delete-subnet rt extra
    done
    "$V" -q teardown-all --auto-approve
    vroute=$(med "${RC[@]}"); froute=$(med "${RF[@]}"); vngw=$(med "${NG[@]}"); vaddsub=$(med "${AS[@]}")
}
routing_rows() {
    row "route change (create-route), ms" "$(ms "$vroute")" "$(ms "$froute")" "$(ratio "$vroute" "$froute")" "<= 1.5 (one ip -batch)"
    row "create-nat-gateway vs add-subnet, ms" "$(ms "$vngw")" "$(ms "$vaddsub")" "$(ratio "$vngw" "$vaddsub")" "<= 1.5"
}
# ------------------------------------------------------------- instances
# run-instance against the floor of a namespace with its rules (the five
# shell-outs below); a membership change of a group that 50 instances
# reference against those 50 restores (run side by side, as vpcctl runs
# them); 200 instances in 20 groups against their bulk floor.
# INSTANCES_ONLY=1 runs this part alone.
floor_policy() {   # $1.. = member addresses admitted on tcp 80: one instance's policy restore
    echo '*filter'; echo ':VPCCTL-INGRESS - [0:0]'; echo ':VPCCTL-EGRESS - [0:0]'
    echo '-A VPCCTL-INGRESS -i lo -j ACCEPT'; echo '-A VPCCTL-INGRESS -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT'
    for a in "$@"; do echo "-A VPCCTL-INGRESS -p tcp -s $a/32 --dport 80 -j ACCEPT"; done
    echo '-A VPCCTL-INGRESS -j DROP'
    echo '-A VPCCTL-EGRESS -o lo -j ACCEPT'; echo '-A VPCCTL-EGRESS -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT'
    echo '-A VPCCTL-EGRESS -j ACCEPT'; echo '-A VPCCTL-EGRESS -j DROP'
    [[ -n ${FLOOR_JUMPS:-} ]] && { echo '-I INPUT 1 -j VPCCTL-INGRESS'; echo '-I OUTPUT 1 -j VPCCTL-EGRESS'; }
    echo COMMIT
}
floor_instance() {   # $1 = bridge, $2 = third octet of its subnet, $3 = last octet: one instance, by hand
    local ns="fi-$2-$3" veth="fi$2x$3" ip="10.95.$2.$3" mac; mac=$(printf '02:76:0a:5f:%02x:%02x' "$2" "$3")
    printf 'netns add %s\nlink add %s type veth peer name eth0 address %s netns %s\nlink set %s addrgenmode none\nlink set %s master %s up\nlink set %s type bridge_slave learning off flood off isolated on\n' \
        "$ns" "$veth" "$mac" "$ns" "$veth" "$veth" "$1" "$veth" | ip -batch -
    echo "fdb replace $mac dev $veth master static" | bridge -batch -
    printf 'link set lo up\naddr add %s/24 dev eth0\nlink set eth0 addrgenmode none\nlink set eth0 up\nroute add default via 10.95.%s.1\n' "$ip" "$2" | ip -n "$ns" -batch -
    FLOOR_JUMPS=1 floor_policy | ip netns exec "$ns" iptables-restore --noflush -w
    { echo '*filter'; floor_port "$veth" "$ip" "$mac"; echo COMMIT; } | ebtables-restore --noflush
}
instance_topology() {   # 200 instances, 10 subnets x 20, in 20 groups: g<k> admits tcp 80 from g<k-1>'s members
    printf '{"vpcs": {"fleet": {"cidr": "10.94.0.0/16", "security_groups": {'
    for k in $(seq 20); do
        [[ $k == 1 ]] || printf ', '
        if [[ $k == 1 ]]; then printf '"g1": {"ingress": [{"protocol": "tcp", "port": 80, "cidr": "10.94.0.0/16"}]}'
        else printf '"g%s": {"ingress": [{"protocol": "tcp", "port": 80, "source_group": "g%s"}]}' "$k" $((k - 1)); fi
    done
    printf '}, "subnets": {'
    for s in $(seq 10); do
        [[ $s == 1 ]] || printf ', '
        printf '"s%s": {"cidr": "10.94.%s.0/24", "instances": {' "$s" "$s"
        for i in $(seq 20); do [[ $i == 1 ]] || printf ', '; printf '"i%sx%s": {"security_groups": ["g%s"]}' "$s" "$i" "$i"; done
        printf '}}'
    done
    printf '}}}}\n'
}
big_group() {   # $1 = the group the 200 join: 200 members, and one instance whose group admits them
    printf '{"vpcs": {"big": {"cidr": "10.93.0.0/16", "security_groups": {"ref": {"ingress": [{"protocol": "tcp", "port": 80, "source_group": "fleet"}]}, "fleet": {}}, "subnets": {'
    for s in $(seq 10); do
        [[ $s == 1 ]] || printf ', '; printf '"s%s": {"cidr": "10.93.%s.0/24", "instances": {' "$s" "$s"
        for i in $(seq 20); do [[ $i == 1 ]] || printf ', '; printf '"m%sx%s": {"security_groups": ["%s"]}' "$s" "$i" "$1"; done
        printf '}}'
    done
    printf ', "t": {"cidr": "10.93.20.0/24", "instances": {"t1": {"security_groups": ["ref"]}}}}}}}\n'
}
floor_fleet() {   # the bulk floor of instance_topology: one root batch, one FDB batch, a batch and a restore per namespace
    floor_rules fbf
    { echo "link add fbf address 02:00:00:00:00:01 type bridge"; echo "link set fbf up"; echo "route add unreachable 10.94.0.0/16"
      for s in $(seq 10); do
          echo "addr add 10.94.$s.1/24 dev fbf"
          for i in 2 $(seq 4 23); do
              echo "netns add ff-$s-$i"; echo "link add ff${s}x$i type veth peer name eth0 address $(printf '02:76:0a:5e:%02x:%02x' "$s" "$i") netns ff-$s-$i"
              echo "link set ff${s}x$i master fbf up"; echo "link set ff${s}x$i type bridge_slave learning off flood off isolated on"
          done
      done; } | ip -batch -
    for s in $(seq 10); do for i in 2 $(seq 4 23); do echo "fdb replace $(printf '02:76:0a:5e:%02x:%02x' "$s" "$i") dev ff${s}x$i master static"; done; done | bridge -batch -
    for s in $(seq 10); do
        for i in 2 $(seq 4 23); do
            printf 'link set lo up\naddr add 10.94.%s.%s/24 dev eth0\nlink set eth0 up\nroute add default via 10.94.%s.1\n' "$s" "$i" "$s" | ip -n "ff-$s-$i" -batch -
            # Group g<k> (k = i - 3) admits the 10 members of g<k-1>.
            [[ $i == 2 ]] && continue
            members=(); for m in $(seq 10); do members+=("10.94.$m.$((i - 1))"); done
            FLOOR_JUMPS=1 floor_policy "${members[@]}" | ip netns exec "ff-$s-$i" iptables-restore --noflush -w
        done
    done
    { echo '*filter'; for s in $(seq 10); do for i in 2 $(seq 4 23); do
          floor_port "ff${s}x$i" "10.94.$s.$i" "$(printf '02:76:0a:5e:%02x:%02x' "$s" "$i")"; done; done; echo COMMIT; } | ebtables-restore --noflush
}
floor_fleet_delete() {
    { for s in $(seq 10); do for i in 2 $(seq 4 23); do echo "netns del ff-$s-$i"; done; done
      echo "link del fbf"; echo "route del unreachable 10.94.0.0/16"; } | ip -force -batch - 2>/dev/null || true
    floor_rules_delete 1
}
instance_bench() {
    local RI=() FI=() MB=() FM=() FA=() VA=()
    # The floor first, on a bridge of its own (its chains have vpcctl's
    # names, so it runs while vpcctl has no VPC).
    floor_rules fbi
    printf 'link add fbi address 02:00:00:00:00:02 type bridge\nlink set fbi up\naddr add 10.95.9.1/24 dev fbi\n' | ip -batch -
    for rep in $(seq $((REPS * 3))); do
        t0=$(now_us); floor_instance fbi 9 $((rep + 3)); t1=$(now_us); FI+=($((t1 - t0)))
    done
    { for rep in $(seq $((REPS * 3))); do echo "netns del fi-9-$((rep + 3))"; done; echo "link del fbi"; } | ip -force -batch - 2>/dev/null || true
    floor_rules_delete 1
    "$V" -q create-vpc inst 10.95.0.0/16
    "$V" -q add-subnet inst a 10.95.1.0/24
    "$V" -q add-subnet inst b 10.95.2.0/24
    "$V" -q create-security-group --vpc inst --group solo
    for rep in $(seq $((REPS * 3))); do
        t0=$(now_us); "$V" -q run-instance --vpc inst --subnet a --name solo --security-groups solo; t1=$(now_us); RI+=($((t1 - t0)))
        "$V" -q terminate-instance --vpc inst --instance solo
    done
    # 50 instances in "ref", whose rule names "members"; x joins and leaves "members".
    "$V" -q create-security-group --vpc inst --group members
    "$V" -q create-security-group --vpc inst --group ref
    "$V" -q authorize-security-group-ingress --vpc inst --group ref --protocol tcp --port 80 --source-group members
    for i in $(seq 50); do "$V" -q run-instance --vpc inst --subnet b --name "r$i" --security-groups ref; done
    "$V" -q run-instance --vpc inst --subnet a --name x --security-groups solo
    # The floor: exactly the 50 restores vpcctl plans for the referencing
    # namespaces (from its dry run), side by side.
    "$V" --dry-run modify-instance-attribute --vpc inst --instance x --security-groups solo,members > $SANDBOX_TMP/join.sh 2>/dev/null
    awk '/^ip netns exec i-inst-r[0-9]+ iptables-restore/ {on=1; f=sprintf("%s/r%d.rules", dir, ++n); print > f; next}
         on {print > f; if ($0 == "EOF") on=0}' dir=$SANDBOX_TMP $SANDBOX_TMP/join.sh
    nrestores=$(ls $SANDBOX_TMP/r*.rules | wc -l)
    for rep in $(seq $((REPS * 3))); do
        t0=$(now_us); "$V" -q modify-instance-attribute --vpc inst --instance x --security-groups solo,members; t1=$(now_us); MB+=($((t1 - t0)))
        "$V" -q modify-instance-attribute --vpc inst --instance x --security-groups solo
        t0=$(now_us); for f in $SANDBOX_TMP/r*.rules; do sh "$f" & done; wait; t1=$(now_us); FM+=($((t1 - t0)))
    done
    "$V" -q teardown-all --auto-approve
    instance_topology > $SANDBOX_TMP/fleet.json
    for rep in $(seq "$REPS"); do
        t0=$(now_us); floor_fleet; t1=$(now_us); FA+=($((t1 - t0)))
        floor_fleet_delete
        t0=$(now_us); "$V" -q apply -f $SANDBOX_TMP/fleet.json; t1=$(now_us); VA+=($((t1 - t0)))
        "$V" -q teardown-all --auto-approve
    done
    # What a 200-member group costs: a member joins, referenced by one
    # namespace (fleet), or by all 200 (default names itself).
    local J1=() J200=()
    for g in fleet default; do
        big_group "$g" > $SANDBOX_TMP/big.json
        "$V" -q apply -f $SANDBOX_TMP/big.json
        for rep in $(seq "$REPS"); do
            t0=$(now_us); "$V" -q run-instance --vpc big --subnet t --name joiner --security-groups "$g"; t1=$(now_us)
            if [[ $g == fleet ]]; then J1+=($((t1 - t0))); else J200+=($((t1 - t0))); fi
            "$V" -q terminate-instance --vpc big --instance joiner
        done
        "$V" -q teardown-all --auto-approve
    done
    vj1=$(med "${J1[@]}"); vj200=$(med "${J200[@]}")
    vrun=$(med "${RI[@]}"); frun=$(med "${FI[@]}"); vjoin=$(med "${MB[@]}"); fjoin=$(med "${FM[@]}"); vfleet=$(med "${VA[@]}"); ffleet=$(med "${FA[@]}")
}
instance_rows() {
    row "run-instance vs its floor (5 shell-outs), ms" "$(ms "$vrun")" "$(ms "$frun")" "$(ratio "$vrun" "$frun")" "<= 1.5"
    row "member joins a group 50 reference, ms" "$(ms "$vjoin")" "$(ms "$fjoin")" "$(ratio "$vjoin" "$fjoin")" "<= 1.5 ($nrestores restores)"
    row "apply -f: 200 instances in 20 groups, ms" "$(ms "$vfleet")" "$(ms "$ffleet")" "$(ratio "$vfleet" "$ffleet")" "<= 1.3 (bulk floor)"
    row "200-member group: a member joins, ms" "$(ms "$vj1") / $(ms "$vj200")" "" "" "(1 / 200 referencing)"
}
# ------------------------------------------------------------- import
# `import terraform` of a state of 2,000 resources (20 VPCs of 100: an
# internet gateway, 24 subnets, route tables and associations, 24
# instances, 2 groups), target under 1 s. IMPORT_ONLY=1 runs it alone.
tf_state() {
    local first=1
    printf '{"format_version": "1.0", "values": {"root_module": {"resources": ['
    res() { [[ $first == 1 ]] || printf ','; first=0; printf '{"address": "%s.%s", "mode": "managed", "type": "%s", "name": "%s", "values": %s}' "$1" "$2" "$1" "$2" "$3"; }
    for v in $(seq 20); do
        res aws_vpc "v$v" "{\"id\": \"vpc-$v\", \"cidr_block\": \"10.$v.0.0/16\"}"
        res aws_internet_gateway "g$v" "{\"id\": \"igw-$v\", \"vpc_id\": \"vpc-$v\"}"
        res aws_security_group "web$v" "{\"id\": \"sg-w$v\", \"name\": \"web\", \"vpc_id\": \"vpc-$v\", \"ingress\": [{\"protocol\": \"tcp\", \"from_port\": 80, \"to_port\": 80, \"cidr_blocks\": [\"0.0.0.0/0\"], \"security_groups\": [], \"self\": false}], \"egress\": []}"
        res aws_security_group "app$v" "{\"id\": \"sg-a$v\", \"name\": \"app\", \"vpc_id\": \"vpc-$v\", \"ingress\": [{\"protocol\": \"tcp\", \"from_port\": 8080, \"to_port\": 8080, \"cidr_blocks\": [], \"security_groups\": [\"sg-w$v\"], \"self\": false}], \"egress\": []}"
        for s in $(seq 24); do
            res aws_subnet "s${v}x$s" "{\"id\": \"subnet-$v-$s\", \"vpc_id\": \"vpc-$v\", \"cidr_block\": \"10.$v.$s.0/24\"}"
            res aws_route_table "r${v}x$s" "{\"id\": \"rtb-$v-$s\", \"vpc_id\": \"vpc-$v\", \"route\": [{\"cidr_block\": \"0.0.0.0/0\", \"gateway_id\": \"igw-$v\"}]}"
            res aws_route_table_association "a${v}x$s" "{\"subnet_id\": \"subnet-$v-$s\", \"route_table_id\": \"rtb-$v-$s\"}"
            res aws_instance "i${v}x$s" "{\"id\": \"i-$v-$s\", \"subnet_id\": \"subnet-$v-$s\", \"private_ip\": \"10.$v.$s.10\", \"vpc_security_group_ids\": [\"sg-a$v\"]}"
        done
    done
    printf ']}}}\n'
}
import_bench() {
    tf_state > $SANDBOX_TMP/tf2000.json
    nres=$(grep -o '"address"' $SANDBOX_TMP/tf2000.json | wc -l)
    local IM=()
    for rep in $(seq $((REPS * 3))); do
        t0=$(now_us); "$V" -q import terraform $SANDBOX_TMP/tf2000.json --out $SANDBOX_TMP/tf2000-topology.json; t1=$(now_us); IM+=($((t1 - t0)))
    done
    vimport=$(med "${IM[@]}")
}
import_rows() {
    row "import terraform: $nres resources, ms" "$(ms "$vimport")" "" "" "< 1000"
}
floor_bulk() {   # $1 = bridge, $2 = first two octets (10.99), $3 = n, $4 = name prefix (f)
    local p=${4:-f}
    floor_rules "$1"
    { echo "link add $1 address 02:00:00:00:00:01 type bridge"; echo "link set $1 up"; echo "route add unreachable $2.0.0/16"
      for i in $(seq "$3"); do
          echo "netns add ${p}ns-$i"; echo "link add ${p}v-$i type veth peer name eth0 address $(floor_mac "$i") netns ${p}ns-$i"
          echo "link set ${p}v-$i master $1 up"; echo "link set ${p}v-$i type bridge_slave learning off flood off isolated on"
          echo "addr add $2.$i.1/24 dev $1"
      done; } | ip -batch -
    for i in $(seq "$3"); do echo "fdb replace $(floor_mac "$i") dev ${p}v-$i master static"; done | bridge -batch -
    for i in $(seq "$3"); do
        printf 'link set lo up\naddr add %s.%s.2/24 dev eth0\nlink set eth0 up\nroute add default via %s.%s.1\n' "$2" "$i" "$2" "$i" | ip -n "${p}ns-$i" -batch -
    done
    { echo '*filter'; for i in $(seq "$3"); do floor_port "${p}v-$i" "$2.$i.2" "$(floor_mac "$i")"; done; echo COMMIT; } | ebtables-restore --noflush
}
# ------------------------------------------------------------ multi-host
# Two simulated hosts (scripts/hosts.sh): iperf3 over the overlay against
# the underlay, with and without WireGuard; underlay packets per frame; and
# a 20-host file applied on host1 against host1's share of the bulk floor
# (its 12 subnets, by hand, plus its tunnel: one ip batch for the device,
# 19 neighbours and 228 routes, one bridge batch for 19 FDB entries, one
# restore for the tunnel's admit rules). MULTIHOST_ONLY=1 runs it alone.
multihost_file() {   # $1 = hosts, $2 = subnets per host, $3 = extra top-level JSON
    printf '{"hosts": {'
    for h in $(seq "$1"); do [[ $h == 1 ]] || printf ', '; printf '"host%s": {"underlay": "192.0.2.%s"}' "$h" $((10 + h)); done
    printf '}, %s "vpcs": {"big": {"cidr": "10.120.0.0/16", "dns": false, "subnets": {' "${3:-}"
    local first=1
    for h in $(seq "$1"); do for i in $(seq "$2"); do
        [[ $first == 1 ]] || printf ', '; first=0
        printf '"h%ss%s": {"cidr": "10.120.%s.0/24", "host": "host%s"}' "$h" "$i" $(( (h - 1) * $2 + i )) "$h"
    done; done
    printf '}}}}\n'
}
floor_overlay() {   # $1 hosts, $2 subnets per host: host1's tunnel, by hand
    { echo "link add fvx type vxlan id 4242 local 192.0.2.11 dstport 4789 nolearning"
      echo "link set fvx address 02:00:00:00:42:01 mtu 1450"; echo "link set fvx addrgenmode none"; echo "link set fvx up"
      for h in $(seq 2 "$1"); do
          echo "neigh replace 169.254.2.$((10 + h)) lladdr 02:00:00:00:42:$(printf %02x "$h") dev fvx nud permanent"
          for i in $(seq "$2"); do echo "route replace 10.121.$(( (h - 1) * $2 + i )).0/24 via 169.254.2.$((10 + h)) dev fvx onlink"; done
      done; } | ip -batch -
    for h in $(seq 2 "$1"); do echo "fdb replace 02:00:00:00:42:$(printf %02x "$h") dev fvx dst 192.0.2.$((10 + h)) self permanent"; done | bridge -batch -
    { echo '*filter'; echo ':FOVERLAY - [0:0]'
      for h in $(seq 2 "$1"); do for i in $(seq "$2"); do
          echo "-A FOVERLAY -i fvx -s 10.121.$(( (h - 1) * $2 + i )).0/24 -m mac --mac-source 02:00:00:00:42:$(printf %02x "$h") -m comment --comment floor -j RETURN"
      done; done
      echo "-A FOVERLAY -i fvx -j DROP"; echo COMMIT; } | iptables-restore --noflush -w
}
iperf() {   # $1 server ns, $2 server ip, $3 client ns -> Mbit/s
    ip netns exec "$1" iperf3 -s -1 -B "$2" >/dev/null 2>&1 &
    local pid=$!
    sleep 0.5
    ip netns exec "$3" iperf3 -c "$2" -t "${IPERF_SECONDS:-3}" -f m 2>/dev/null | awk '/receiver/ {print $(NF-2)}'
    wait "$pid" 2>/dev/null || true
}
multihost_bench() {
    source scripts/hosts.sh
    VPCCTL=$V
    add_hosts 2
    local fns=(floor_rules floor_mac floor_port floor_bulk floor_overlay)
    local defs; defs="$(declare -f "${fns[@]}")"
    # Throughput, in alternating pairs (this machine's iperf3 varies run to
    # run by a third): the underlay host to host, then a subnet on host1 to
    # one on host2 through the overlay.
    multihost_file 2 1 > $SANDBOX_TMP/mh2.json
    for h in host1 host2; do vpc_on $h -q apply -f $SANDBOX_TMP/mh2.json; done
    local U=() O=()
    for rep in $(seq "$REPS"); do
        on host2 iperf3 -s -1 -B 192.0.2.12 >/dev/null 2>&1 & sleep 0.5
        U+=("$(on host1 iperf3 -c 192.0.2.12 -t "${IPERF_SECONDS:-3}" -f m 2>/dev/null | awk '/receiver/ {print $(NF-2)}')"); wait || true
        O+=("$(iperf ns-big-h2s1 10.120.2.2 ns-big-h1s1)")
    done
    mh_under=$(med "${U[@]}"); mh_over=$(med "${O[@]}")
    # Underlay packets per frame: VXLAN out of host1's eth0 per frame sent on vx-big.
    on host1 iptables -w -I OUTPUT -o eth0 -p udp --dport 4789
    local tx0; tx0=$(on host1 cat /proc/net/dev | awk '/vx-big:/ {print $11}')
    ip netns exec ns-big-h1s1 ping -f -c 1000 -q 10.120.2.2 >/dev/null
    local tx1; tx1=$(on host1 cat /proc/net/dev | awk '/vx-big:/ {print $11}')
    local udp; udp=$(on host1 iptables -w -L OUTPUT -v -x -n | awk '/dpt:4789/ {print $1}')
    on host1 iptables -w -D OUTPUT -o eth0 -p udp --dport 4789
    mh_ppf=$(awk -v u="$udp" -v f=$((tx1 - tx0)) 'BEGIN { if (f > 0) printf "%.2f", u / f; else print "-" }')
    for h in host1 host2; do vpc_on $h -q teardown-all --auto-approve; done
    # What the overlay itself costs: the same two namespaces on bridges,
    # routed host to host over the underlay, with no encapsulation and no rules.
    for i in 1 2; do
        on host$i ip link add bb type bridge; on host$i ip link set bb up; on host$i ip addr add 10.125.$i.1/24 dev bb
        ip netns add rb$i; ip link add rv$i type veth peer name eth0 netns rb$i
        ip link set rv$i netns host$i; on host$i ip link set rv$i master bb up
        ip -n rb$i addr add 10.125.$i.2/24 dev eth0; ip -n rb$i link set eth0 up; ip -n rb$i link set lo up; ip -n rb$i route add default via 10.125.$i.1
        on host$i sysctl -qw net.ipv4.ip_forward=1
        on host$i ip route add 10.125.$((3 - i)).0/24 via 192.0.2.$((13 - i))
    done
    local R=()
    for rep in $(seq "$REPS"); do R+=("$(iperf rb2 10.125.2.2 rb1)"); done
    mh_routed=$(med "${R[@]}")
    for i in 1 2; do ip netns del rb$i; on host$i ip link del bb; on host$i sysctl -qw net.ipv4.ip_forward=0; done
    # WireGuard (wireguard-go here): reported, not gated.
    mh_wg=-
    if command -v wireguard-go >/dev/null; then
        local k1 k2; k1=$(vpc_on host1 host-key); k2=$(vpc_on host2 host-key)
        multihost_file 2 1 '"encryption": "wireguard",' | sed "s|\"underlay\": \"192.0.2.11\"|&, \"wireguard_public_key\": \"$k1\"|; s|\"underlay\": \"192.0.2.12\"|&, \"wireguard_public_key\": \"$k2\"|" > $SANDBOX_TMP/mhwg.json
        for h in host1 host2; do vpc_on $h -q apply -f $SANDBOX_TMP/mhwg.json; done
        mh_wg=$(iperf ns-big-h2s1 10.120.2.2 ns-big-h1s1)
        for h in host1 host2; do vpc_on $h -q teardown-all --auto-approve; done
    fi
    # 20 hosts x 12 subnets: host1 applies its share (host1 alone exists here).
    multihost_file 20 12 > $SANDBOX_TMP/mh20.json
    local F=() A=()
    for rep in $(seq "$REPS"); do
        t0=$(now_us); on host1 bash -c "$defs; floor_bulk fbm 10.122 12; floor_overlay 20 12"; t1=$(now_us); F+=($((t1 - t0)))
        on host1 bash -c "$defs; { for i in \$(seq 12); do echo \"netns del fns-\$i\"; done; echo 'link del fbm'; echo 'link del fvx'; echo 'route del unreachable 10.122.0.0/16'; } | ip -force -batch - 2>/dev/null
            iptables -w -F FOVERLAY; iptables -w -X FOVERLAY; ebtables -F FORWARD 2>/dev/null; $(declare -f floor_rules_delete); floor_rules_delete 1" 2>/dev/null || true
        t0=$(now_us); vpc_on host1 -q apply -f $SANDBOX_TMP/mh20.json --host host1; t1=$(now_us); A+=($((t1 - t0)))
        vpc_on host1 -q teardown-all --auto-approve
    done
    mh_f20=$(med "${F[@]}"); mh_v20=$(med "${A[@]}")
}
multihost_rows() {
    row "overlay iperf3 vs underlay, Mbit/s" "$mh_over" "$mh_under" "$(ratio "${mh_over/-/0}" "${mh_under/-/0}")" ">= 0.70"
    row "  vs the same subnets routed, no overlay" "$mh_over" "$mh_routed" "$(ratio "${mh_over/-/0}" "${mh_routed/-/0}")" "(the overlay's own cost)"
    row "  with WireGuard (wireguard-go), Mbit/s" "$mh_wg" "$mh_under" "$(ratio "${mh_wg/-/0}" "${mh_under/-/0}")" "(reported)"
    row "underlay packets per unicast frame" "$mh_ppf" "" "" "1.00"
    row "20-host file on host1 vs its share of the floor" "$(ms "$mh_v20")" "$(ms "$mh_f20")" "$(ratio "$mh_v20" "$mh_f20")" "<= 1.3"
}
med() { printf '%s\n' "$@" | median; }
# One part alone (MULTIHOST_ONLY=1, IMPORT_ONLY=1, ...): its bench, its rows.
only() {   # $1 = the part's bench function, $2 = its rows function
    "$1"
    row "operation" "vpcctl" "floor/baseline" "ratio" "target"
    "$2"
    exit 0
}
[[ -z "${MULTIHOST_ONLY:-}" ]] || only multihost_bench multihost_rows
[[ -z "${IMPORT_ONLY:-}" ]] || only import_bench import_rows
[[ -z "${INSTANCES_ONLY:-}" ]] || only instance_bench instance_rows
[[ -z "${ROUTING_ONLY:-}" ]] || only routing_bench routing_rows
routing_bench
instance_bench
import_bench
multihost_bench

# One repetition: create (+ per-call times), delete; floor then vpcctl.
declare -a F_CREATE V_CREATE F_FIRST V_FIRST F_LAST V_LAST F_DEL V_DEL
for rep in $(seq "$REPS"); do
    t0=$(now_us); floor_vpc fbr 10.99.0.0/16; t1=$(now_us)
    total=$((t1 - t0)); first=0; last=0
    for i in $(seq "$N"); do
        a=$(now_us); floor_subnet fbr "$i"; b=$(now_us)
        total=$((total + b - a))
        (( i <= 10 )) && first=$((first + b - a))
        (( i > N - 10 )) && last=$((last + b - a))
    done
    F_CREATE+=("$total"); F_FIRST+=("$first"); F_LAST+=("$last")
    t0=$(now_us); floor_delete fbr 10.99.0.0/16 "$N"; t1=$(now_us); F_DEL+=($((t1 - t0)))

    t0=$(now_us); "$V" -q create-vpc bench 10.99.0.0/16; t1=$(now_us)
    total=$((t1 - t0)); first=0; last=0
    for i in $(seq "$N"); do
        a=$(now_us); "$V" -q add-subnet bench "s$i" "10.99.$i.0/24"; b=$(now_us)
        total=$((total + b - a))
        (( i <= 10 )) && first=$((first + b - a))
        (( i > N - 10 )) && last=$((last + b - a))
    done
    V_CREATE+=("$total"); V_FIRST+=("$first"); V_LAST+=("$last")
    t0=$(now_us); "$V" -q delete bench; t1=$(now_us); V_DEL+=($((t1 - t0)))
done
fc=$(med "${F_CREATE[@]}"); vc=$(med "${V_CREATE[@]}")
ff=$(med "${F_FIRST[@]}"); fl=$(med "${F_LAST[@]}"); vf=$(med "${V_FIRST[@]}"); vl=$(med "${V_LAST[@]}")
fd=$(med "${F_DEL[@]}"); vd=$(med "${V_DEL[@]}")

# ---------------------------------------------------- list/inspect, processes
"$V" -q create-vpc bench 10.99.0.0/16
for i in $(seq "$N"); do "$V" -q add-subnet bench "s$i" "10.99.$i.0/24"; done
mkdir -p $SANDBOX_TMP/count
for p in ip bridge iptables iptables-restore iptables-save ebtables-restore ebtables-save; do
    printf '#!/bin/sh\necho %s >> %s/count/log\nexec %s "$@"\n' "$p" "$SANDBOX_TMP" "$(command -v $p)" > "$SANDBOX_TMP/count/$p"
    chmod +x $SANDBOX_TMP/count/$p
done
procs() { : > $SANDBOX_TMP/count/log; PATH=$SANDBOX_TMP/count:$PATH "$V" -q "$@" >/dev/null; wc -l < $SANDBOX_TMP/count/log; }
t0=$(now_us); for _ in 1 2 3 4 5; do "$V" list >/dev/null; done; t1=$(now_us); vlist=$(( (t1 - t0) / 5 ))
t0=$(now_us); for _ in 1 2 3 4 5; do "$V" inspect bench >/dev/null; done; t1=$(now_us); vinsp=$(( (t1 - t0) / 5 ))
p_list=$(procs list); p_insp=$(procs inspect bench)
p_add=$(procs add-subnet bench extra 10.99.250.0/24)
p_del=$(procs delete bench)

# ------------------------------------------------------------------ scale
SV=50; SS=8; peak=0
measure() {   # runs vpcctl under /usr/bin/time when present, tracks peak RSS (KiB)
    if [[ -x /usr/bin/time ]]; then
        /usr/bin/time -f %M -o $SANDBOX_TMP/rss "$V" -q "$@" >/dev/null
        local r; r=$(tail -1 $SANDBOX_TMP/rss); (( r > peak )) && peak=$r
    else
        "$V" -q "$@" >/dev/null
    fi
    return 0
}
t0=$(now_us)
for v in $(seq "$SV"); do
    measure create-vpc "v$v" "10.$((100 + v)).0.0/16"
    for s in $(seq "$SS"); do measure add-subnet "v$v" "s$s" "10.$((100 + v)).$s.0/24"; done
done
t1=$(now_us); s_create=$((t1 - t0))
t0=$(now_us); measure list; t1=$(now_us); s_list=$((t1 - t0))
t0=$(now_us); measure inspect v25; t1=$(now_us); s_insp=$((t1 - t0))
t0=$(now_us); for v in $(seq "$SV"); do measure delete "v$v"; done; t1=$(now_us); s_del=$((t1 - t0))
# The same without resolvers: what DNS costs at this scale.
t0=$(now_us)
for v in $(seq "$SV"); do
    measure create-vpc "v$v" "10.$((100 + v)).0.0/16" --no-dns
    for s in $(seq "$SS"); do measure add-subnet "v$v" "s$s" "10.$((100 + v)).$s.0/24"; done
done
t1=$(now_us); s_create_nodns=$((t1 - t0))
"$V" -q teardown-all --auto-approve

# ------------------------------------------------------------- topologies
# The bulk floor: one root `ip -batch` for the bridge and every subnet, one
# `ip -n NS -batch` per namespace, one iptables-restore.
# Remove the two 200-subnet bulk floors (and the route tables and rules of
# the one with route tables, if made).
floor_bulk_delete_400() {
    { for i in $(seq 200); do echo "netns del ans-$i"; echo "netns del bns-$i"; done; echo "link del fbr"; echo "link del fbs"
      echo "route del unreachable 10.98.0.0/16"; echo "route del unreachable 10.97.0.0/16"
      echo "route flush table 4243"; echo "route flush table 4244"; } | ip -force -batch - 2>/dev/null || true
    while ip rule del pref 21000 2>/dev/null; do :; done
    floor_rules_delete 2
}
topology() {   # [--rt] "name prefix n" per VPC -> a topology file on stdout
    # --rt: each VPC also has table "rt", a blackhole route, for s1..s(n/2).
    local first=1 rt=0
    [[ ${1:-} == --rt ]] && { rt=1; shift; }
    printf '{"vpcs": {'
    for spec in "$@"; do
        set -- $spec
        [[ $first == 1 ]] || printf ', '; first=0
        printf '"%s": {"cidr": "%s.0.0/16", "subnets": {' "$1" "$2"
        for i in $(seq "$3"); do [[ $i == 1 ]] || printf ', '; printf '"s%s": {"cidr": "%s.%s.0/24"}' "$i" "$2" "$i"; done
        printf '}'
        if (( rt )); then
            printf ', "route_tables": {"rt": {"routes": [{"destination": "192.0.2.0/24", "blackhole": true}], "subnets": ['
            for i in $(seq $(($3 / 2))); do [[ $i == 1 ]] || printf ', '; printf '"s%s"' "$i"; done
            printf ']}}'
        fi
        printf '}'
    done
    printf '}}\n'
}
topology "bench 10.99 $N" > $SANDBOX_TMP/t40.json
topology "big1 10.110 200" "big2 10.111 200" > $SANDBOX_TMP/t400.json
echo '{"vpcs": {}}' > $SANDBOX_TMP/empty.json
F_BULK=(); V_APPLY=(); V_APPLY400=()
for rep in $(seq "$REPS"); do
    t0=$(now_us); floor_bulk fbr 10.99 "$N"; t1=$(now_us); F_BULK+=($((t1 - t0)))
    floor_delete fbr 10.99.0.0/16 "$N"
    t0=$(now_us); "$V" -q apply -f $SANDBOX_TMP/t40.json; t1=$(now_us); V_APPLY+=($((t1 - t0)))
    "$V" -q apply -f $SANDBOX_TMP/empty.json --auto-approve
done
fbulk=$(med "${F_BULK[@]}"); vapply=$(med "${V_APPLY[@]}")
# The bulk floor at 400 (2 x 200): the kernel's own cost per subnet grows
# with the number of namespaces, and this row says by how much.
t0=$(now_us); floor_bulk fbr 10.98 200 a; floor_bulk fbs 10.97 200 b; t1=$(now_us); fbulk400=$((t1 - t0))
floor_bulk_delete_400
# 400 subnets in one apply, then the no-op reads on that size.
peak400=0
t0=$(now_us)
if [[ -x /usr/bin/time ]]; then
    /usr/bin/time -f %M -o $SANDBOX_TMP/rss "$V" -q apply -f $SANDBOX_TMP/t400.json; peak400=$(tail -1 $SANDBOX_TMP/rss)
else
    "$V" -q apply -f $SANDBOX_TMP/t400.json
fi
t1=$(now_us); vapply400=$((t1 - t0))
NOOP=(); DOC=(); REP=()
for rep in $(seq "$REPS"); do
    t0=$(now_us); "$V" -q apply -f $SANDBOX_TMP/t400.json; t1=$(now_us); NOOP+=($((t1 - t0)))
    t0=$(now_us); "$V" -q doctor >/dev/null; t1=$(now_us); DOC+=($((t1 - t0)))
    t0=$(now_us); "$V" -q repair; t1=$(now_us); REP+=($((t1 - t0)))
done
vnoop=$(med "${NOOP[@]}"); vdoc=$(med "${DOC[@]}"); vrep=$(med "${REP[@]}")
t0=$(now_us); "$V" -q teardown-all --auto-approve; t1=$(now_us); vtear400=$((t1 - t0))
per40=$((vapply / N)); per400=$((vapply400 / 400)); fper40=$((fbulk / N)); fper400=$((fbulk400 / 400))

# 400 subnets with route tables: per VPC a table with a blackhole route and
# half its subnets, so a kernel table and 100 `ip rule`s each. Its floor: the
# bulk floor plus one `ip -batch` with those routes and rules.
topology --rt "big1 10.110 200" "big2 10.111 200" > $SANDBOX_TMP/t400rt.json
t0=$(now_us)
floor_bulk fbr 10.98 200 a; floor_bulk fbs 10.97 200 b
{ for pair in "fbr 10.98 4243" "fbs 10.97 4244"; do
      set -- $pair
      echo "route replace throw $2.0.0/16 table $3"; echo "route replace blackhole 192.0.2.0/24 table $3"
      for i in $(seq 100); do echo "rule add from $2.$i.0/24 iif $1 lookup $3 pref 21000"; done
  done; } | ip -batch -
t1=$(now_us); fbulk400rt=$((t1 - t0))
floor_bulk_delete_400
t0=$(now_us); "$V" -q apply -f $SANDBOX_TMP/t400rt.json; t1=$(now_us); vapply400rt=$((t1 - t0))
"$V" -q teardown-all --auto-approve

# ------------------------------------------------------------- data plane
tp_intra=-; tp_peer=-; tp_base1=-; tp_base2=-; tp_iso=-
if command -v iperf3 >/dev/null; then
    # Baseline: the same namespaces and routing, on bare bridges, no rules;
    # bn4 and bn5 on bb3, whose ports are set as vpcctl sets its own
    # (learning off, unicast flood off, isolated, static FDB entries).
    ip link add bb1 type bridge; ip link add bb2 type bridge; ip link set bb1 up; ip link set bb2 up
    ip link add bb3 type bridge; ip link set bb3 up
    for x in 1 2 3 4 5; do
        br=bb1; [[ $x == 3 ]] && br=bb2; (( x >= 4 )) && br=bb3
        ip netns add "bn$x"
        ip link add "bv$x" type veth peer name eth0 address "02:77:00:00:00:0$x" netns "bn$x"
        ip link set "bv$x" master "$br" up
        if [[ $br == bb3 ]]; then
            ip link set "bv$x" type bridge_slave learning off flood off isolated on
            bridge fdb replace "02:77:00:00:00:0$x" dev "bv$x" master static
        fi
        ip addr add "10.250.$x.1/24" dev "$br"
        ip -n "bn$x" addr add "10.250.$x.2/24" dev eth0
        ip -n "bn$x" link set eth0 up; ip -n "bn$x" link set lo up
        ip -n "bn$x" route add default via "10.250.$x.1"
    done
    echo 1 > /proc/sys/net/ipv4/ip_forward
    "$V" -q create-vpc da 10.201.0.0/16; "$V" -q create-vpc db 10.202.0.0/16
    "$V" -q add-subnet da a1 10.201.1.0/24; "$V" -q add-subnet da a2 10.201.2.0/24
    "$V" -q add-subnet db b1 10.202.1.0/24; "$V" -q peer da db
    # Alternate baseline and vpcctl runs, so drift on a shared machine hits both.
    B1=(); B2=(); B3=(); I1=(); I2=()
    for rep in $(seq "$REPS"); do
        B1+=("$(iperf bn2 10.250.2.2 bn1)"); I1+=("$(iperf ns-da-a2 10.201.2.2 ns-da-a1)")
        B2+=("$(iperf bn3 10.250.3.2 bn1)"); I2+=("$(iperf ns-db-b1 10.202.1.2 ns-da-a1)")
        B3+=("$(iperf bn5 10.250.5.2 bn4)")
    done
    tp_base1=$(med "${B1[@]}"); tp_intra=$(med "${I1[@]}")
    tp_base2=$(med "${B2[@]}"); tp_peer=$(med "${I2[@]}"); tp_iso=$(med "${B3[@]}")
    "$V" -q teardown-all --auto-approve
fi

# ------------------------------------------------------------------ report
echo
echo "vpcctl benchmark — $(date -u +%Y-%m-%dT%H:%MZ), N=$N subnets, median of $REPS"
echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), kernel $(uname -r)"
echo "tools: $(ip -V | sed 's/ip utility, //'), $(iptables -V)"
echo
row "operation" "vpcctl" "floor/baseline" "ratio" "target"
row "create-vpc + $N add-subnet, total ms" "$(ms "$vc")" "$(ms "$fc")" "$(ratio "$vc" "$fc")" "<= 1.3 (per call)"
row "  per subnet, ms" "$(ms $((vc / N)))" "$(ms $((fc / N)))" "" ""
row "last 10 / first 10 add-subnet" "$(ratio "$vl" "$vf")" "$(ratio "$fl" "$ff")" "" "<= 1.25 (vpcctl)"
row "delete ${N}-subnet VPC, ms" "$(ms "$vd")" "$(ms "$fd")" "$(ratio "$vd" "$fd")" "<= 1.5"
row "list, ms (processes spawned)" "$(ms "$vlist") ($p_list)" "" "" "0 processes"
row "inspect, ms (processes spawned)" "$(ms "$vinsp") ($p_insp)" "" "" "0 processes"
row "processes: add-subnet / delete" "$p_add / $p_del" "" "" "fixed, any N"
row "apply -f: 1 VPC, $N subnets, ms" "$(ms "$vapply")" "$(ms "$fbulk")" "$(ratio "$vapply" "$fbulk")" "<= 1.3 (bulk floor)"
row "apply -f: 400 subnets, ms per subnet" "$(ms "$per400")" "$(ms "$per40")" "$(ratio "$per400" "$per40")" "<= 1.25 (vs $N)"
row "  bulk floor: 400 vs $N, ms per subnet" "$(ms "$fper400")" "$(ms "$fper40")" "$(ratio "$fper400" "$fper40")" "(the kernel's own growth)"
row "apply -f: 400 subnets vs bulk floor of 400" "$(ms "$vapply400")" "$(ms "$fbulk400")" "$(ratio "$vapply400" "$fbulk400")" "<= 1.3"
row "apply -f: 400 subnets, total s / peak RSS MiB" "$(awk -v u=$vapply400 'BEGIN{printf "%.2f", u/1e6}') / $(awk -v k=$peak400 'BEGIN{ if (k>0) printf "%.1f", k/1024; else print "-" }')" "" "" ""
row "400 subnets: no-op apply, s" "$(awk -v u=$vnoop 'BEGIN{printf "%.3f", u/1e6}')" "" "" "< 1.5"
row "400 subnets: doctor, s" "$(awk -v u=$vdoc 'BEGIN{printf "%.3f", u/1e6}')" "" "" "< 1.5"
row "400 subnets: no-op repair, s" "$(awk -v u=$vrep 'BEGIN{printf "%.3f", u/1e6}')" "" "" "< 1.5"
row "apply -f: 400 subnets with route tables vs its bulk floor" "$(ms "$vapply400rt")" "$(ms "$fbulk400rt")" "$(ratio "$vapply400rt" "$fbulk400rt")" "<= 1.3"
routing_rows
instance_rows
import_rows
multihost_rows
row "400 subnets: teardown-all, s" "$(awk -v u=$vtear400 'BEGIN{printf "%.2f", u/1e6}')" "" "" ""
row "scale ${SV}x${SS}: create all, s" "$(awk -v u=$s_create 'BEGIN{printf "%.2f", u/1e6}')" "" "" ""
row "scale ${SV}x${SS}: with DNS vs --no-dns, s" "$(awk -v u=$s_create 'BEGIN{printf "%.2f", u/1e6}')" "$(awk -v u=$s_create_nodns 'BEGIN{printf "%.2f", u/1e6}')" "$(ratio "$s_create" "$s_create_nodns")" "<= 1.15"
row "scale: list / inspect, ms" "$(ms $s_list) / $(ms $s_insp)" "" "" ""
row "scale: delete all, s" "$(awk -v u=$s_del 'BEGIN{printf "%.2f", u/1e6}')" "" "" ""
row "scale: vpcctl peak RSS, MiB" "$(awk -v k=$peak 'BEGIN{ if (k>0) printf "%.1f", k/1024; else print "-" }')" "" "" ""
row "iperf3 intra-VPC, Mbit/s" "$tp_intra" "$tp_base1" "$(ratio "${tp_intra/-/0}" "${tp_base1/-/0}")" ">= 0.90"
row "iperf3 peered VPCs, Mbit/s" "$tp_peer" "$tp_base2" "$(ratio "${tp_peer/-/0}" "${tp_base2/-/0}")" ">= 0.90"
row "iperf3 intra-VPC vs a bridge with guarded ports" "$tp_intra" "$tp_iso" "$(ratio "${tp_intra/-/0}" "${tp_iso/-/0}")" ">= 0.90"
exit 0
