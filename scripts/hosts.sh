# Simulated hosts inside a sandbox (scripts/sandbox.sh): source this file,
# then `add_hosts N`. Host i is the network namespace "hosti" with eth0
# 192.0.2.(10+i)/24 on the bridge underlay0, which also joins the fake
# internet (192.0.2.1, each host's default route). Each host has its own
# state dir, $SANDBOX_TMP/hosti. Run vpcctl on a host with
#   vpc_on host1 apply -f FILE
# which is nsenter --net (not `ip netns exec`: its private mount
# namespace would hide the namespaces vpcctl makes, and they would vanish
# when it exits).

VPCCTL=${VPCCTL:-vpcctl}

add_hosts() {
    local n=$1 i
    ip link add underlay0 type bridge
    ip link set underlay0 up
    ip link add ul-internet type veth peer name ul0 netns internet
    ip link set ul-internet master underlay0 up
    ip -n internet addr add 192.0.2.1/24 dev ul0
    ip -n internet link set ul0 up
    for i in $(seq "$n"); do
        ip netns add "host$i"
        ip link add "ul-host$i" type veth peer name eth0 netns "host$i"
        ip link set "ul-host$i" master underlay0 up
        ip -n "host$i" link set lo up
        ip -n "host$i" addr add "192.0.2.$((10 + i))/24" dev eth0
        ip -n "host$i" link set eth0 up
        ip -n "host$i" route add default via 192.0.2.1
        mkdir -p "$SANDBOX_TMP/host$i"
    done
}

# Run a command in a host's network namespace.
on() {
    local h=$1
    shift
    nsenter --net="/run/netns/$h" "$@"
}

# Run vpcctl on a host, with its own state dir.
vpc_on() {
    local h=$1
    shift
    nsenter --net="/run/netns/$h" "$VPCCTL" --state-dir "$SANDBOX_TMP/$h" "$@"
}
