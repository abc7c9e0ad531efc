//! Issue 22: isolation below L3 and between processes. Root inside a
//! subnet is the adversary, as in `hardening.rs`; each attack is tried for
//! real in its own sandbox and must fail, and the host must end as found.

#[macro_use]
mod common;

use common::Sandbox;

/// vpc1 with web, db and evil; db serves HTTP on 8080 (by hand).
fn web_db_evil(sb: &Sandbox) {
    sb.v(&["create-vpc", "vpc1", "10.10.0.0/16"]);
    for (s, cidr) in [("web", "10.10.1.0/24"), ("db", "10.10.2.0/24"), ("evil", "10.10.3.0/24")] {
        sb.v(&["add-subnet", "vpc1", s, cidr]);
    }
    sb.serve_by_hand("ns-vpc1-db", 8080);
    assert!(sb.curl("ns-vpc1-web", "http://10.10.2.2:8080/").is_some(), "web reaches db");
}

fn mac(sb: &Sandbox, ns: &str) -> String {
    sb.ok(&format!("ip -n {ns} -o link show eth0 | grep -o 'link/ether [^ ]*' | cut -d' ' -f2")).trim().to_string()
}

/// Packets to db's address that reached evil's IP layer.
fn captured(sb: &Sandbox) -> u64 {
    let out = sb.ok("ip netns exec ns-vpc1-evil iptables -w -t raw -L PREROUTING -v -x -n");
    out.lines().filter(|l| l.contains("10.10.2.2")).map(|l| l.split_whitespace().next().unwrap().parse::<u64>().unwrap()).sum()
}

#[test]
fn a_subnet_using_another_subnets_mac_captures_nothing() {
    let sb = sandbox!();
    sb.docker_like_host();
    let snap = sb.snapshot();
    web_db_evil(&sb);
    let db_mac = mac(&sb, "ns-vpc1-db");
    assert_eq!(db_mac, "02:76:0a:0a:02:02", "a fixed MAC, from the subnet's address");
    // Root in evil takes db's MAC and keeps sending with it (to poison
    // the bridge's table), while web talks to db.
    sb.ok(&format!(
        "ip -n ns-vpc1-evil link set eth0 address {db_mac}
         ip netns exec ns-vpc1-evil iptables -w -t raw -A PREROUTING -d 10.10.2.2 -j ACCEPT
         ( for i in $(seq 30); do ip netns exec ns-vpc1-evil ping -c1 -W0.1 10.10.3.1 >/dev/null 2>&1; sleep 0.05; done ) &
         for i in $(seq 10); do ip netns exec ns-vpc1-web curl -s -m1 -H 'Authorization: secret' http://10.10.2.2:8080/ >/dev/null; sleep 0.1; done
         wait"
    ));
    assert_eq!(captured(&sb), 0, "evil received traffic meant for db");
    // Nor did its ARP, sent from db's MAC, teach the host that MAC for evil.
    let neigh = sb.ok("ip neigh show dev br-vpc1 10.10.3.2");
    assert!(!neigh.contains(&db_mac), "the host took db's MAC for evil: {neigh}");
    assert!(sb.curl("ns-vpc1-web", "http://10.10.2.2:8080/").is_some(), "web still reaches db");
    // The FDB points db's MAC at db's port alone, and learned nothing.
    let fdb = sb.ok("bridge fdb show br br-vpc1 | grep -v permanent");
    let lines: Vec<&str> = fdb.lines().filter(|l| !l.contains(" self")).collect();
    assert_eq!(
        lines,
        [
            "02:76:0a:0a:01:02 dev v-vpc1-web master br-vpc1 static",
            "02:76:0a:0a:02:02 dev v-vpc1-db master br-vpc1 static",
            "02:76:0a:0a:03:02 dev v-vpc1-evil master br-vpc1 static",
        ],
        "{fdb}"
    );
    // 500 random source MACs make no entry at all.
    sb.ok("for i in $(seq 500); do printf -v m '02:aa:00:00:%02x:%02x' $((i / 256)) $((i % 256)); ip -n ns-vpc1-evil link set eth0 address $m; ip netns exec ns-vpc1-evil ping -c1 -W0.01 10.10.3.1 >/dev/null 2>&1 || true; done 2>/dev/null | head -0");
    assert_eq!(sb.ok("bridge fdb show br br-vpc1 | grep -c 02:aa: || true").trim(), "0");

    // doctor sees a port that learns again or an entry gone; repair puts both back.
    sb.ok("ip link set v-vpc1-db type bridge_slave learning on; bridge fdb del 02:76:0a:0a:01:02 dev v-vpc1-web master");
    let doctor = sb.vpcctl(&["doctor"]);
    assert!(doctor.stdout.contains("bridge port v-vpc1-db learns, floods or is not isolated"), "{doctor:?}");
    assert!(doctor.stdout.contains("does not point 02:76:0a:0a:01:02 at v-vpc1-web"), "{doctor:?}");
    sb.v(&["repair"]);
    assert!(sb.vpcctl(&["doctor"]).ok());
    assert_eq!(sb.ok("cat /sys/class/net/v-vpc1-db/brport/learning").trim(), "0");

    sb.end_by_hand();
    sb.v(&["teardown-all", "--auto-approve"]);
    assert_eq!(sb.snapshot(), snap);
}

#[test]
fn without_br_netfilter_subnets_reach_each_other_only_through_the_host() {
    let sb = sandbox!();
    // Most hosts that are not Docker hosts: the bridge hands nothing to iptables.
    sb.ok("echo 0 > /proc/sys/net/bridge/bridge-nf-call-iptables");
    sb.docker_like_host();
    let snap = sb.snapshot();
    web_db_evil(&sb);
    let nacl = sb.file(
        "db-nacl.json",
        r#"{"inbound": [{"rule": 100, "protocol": "tcp", "ports": "8080", "cidr": "10.10.1.0/24", "action": "allow"},
                        {"rule": 110, "protocol": "udp", "ports": "9999", "cidr": "10.10.1.0/24", "action": "allow"}],
            "outbound": [{"rule": 100, "protocol": "tcp", "ports": "1024-65535", "cidr": "10.10.0.0/16", "action": "allow"}]}"#,
    );
    sb.v(&["apply-nacl", "vpc1", "db", "--nacl", &nacl]);
    assert!(sb.curl("ns-vpc1-web", "http://10.10.2.2:8080/").is_some(), "the NACL admits web");
    assert!(sb.curl("ns-vpc1-evil", "http://10.10.2.2:8080/").is_none(), "the NACL refuses evil when routed");
    // Root in evil makes db's subnet on-link and goes straight across the bridge.
    sb.ok("ip -n ns-vpc1-evil route add 10.10.2.0/24 dev eth0");
    assert!(sb.curl("ns-vpc1-evil", "http://10.10.2.2:8080/").is_none(), "evil reached db at L2, past the NACL");
    // Broadcast and multicast reach no other subnet.
    sb.ok("ip netns exec ns-vpc1-db socat -u UDP4-RECV:9999 /run/vpcctl-sandbox/udp.log >/dev/null 2>&1 & echo $! >> /run/vpcctl-sandbox/by-hand.pids; sleep 0.3");
    sb.ok("echo limited | ip netns exec ns-vpc1-evil socat - UDP4-DATAGRAM:255.255.255.255:9999,broadcast
           echo directed | ip netns exec ns-vpc1-evil socat - UDP4-DATAGRAM:10.10.255.255:9999,broadcast
           echo allhosts | ip netns exec ns-vpc1-evil socat - UDP4-DATAGRAM:224.0.0.1:9999
           echo unicast | ip netns exec ns-vpc1-web socat - UDP4-DATAGRAM:10.10.2.2:9999
           sleep 0.3");
    // The unicast datagram from web proves the listener was listening.
    assert_eq!(sb.ok("cat /run/vpcctl-sandbox/udp.log").trim(), "unicast");
    sb.end_by_hand();
    sb.v(&["teardown-all", "--auto-approve"]);
    assert_eq!(sb.snapshot(), snap);
}

#[test]
fn a_closed_stdout_does_not_cut_a_change_short() {
    let sb = sandbox!();
    sb.docker_like_host();
    let snap = sb.snapshot();
    sb.v(&["create-vpc", "vpc1", "10.10.0.0/16"]);
    sb.v(&["add-subnet", "vpc1", "a", "10.10.1.0/24"]);
    sb.v(&["add-subnet", "vpc1", "b", "10.10.2.0/24"]);
    sb.ok("ip -n ns-vpc1-a route del default; ip -n ns-vpc1-b route del default");
    // repair says what it fixes before it fixes it; nobody reads that here.
    let out = sb.sh("$VPCCTL repair 2>/run/vpcctl-sandbox/err | (exec <&-; sleep 1); echo ${PIPESTATUS[0]}; cat /run/vpcctl-sandbox/err");
    assert_eq!(out.stdout, "141\n", "finished, then exit 141 quietly: {out:?}");
    assert!(sb.vpcctl(&["doctor"]).ok(), "repair was cut short");
    assert!(sb.ping("ns-vpc1-a", "10.10.2.2"));
    let out = sb.sh("$VPCCTL teardown-all --auto-approve | (exec <&-; sleep 1); echo ${PIPESTATUS[0]}");
    assert_eq!(out.stdout, "141\n", "{out:?}");
    assert_eq!(sb.snapshot(), snap);
}

#[test]
fn a_lock_held_by_another_user_does_not_block_a_change() {
    let sb = sandbox!();
    sb.docker_like_host();
    let snap = sb.snapshot();
    sb.v(&["create-vpc", "vpc1", "10.10.0.0/16"]);
    // nobody squats on the abstract socket an earlier vpcctl locked with,
    // and cannot open the lock file at all.
    let squat = sb.sh(
        "setpriv --reuid=65534 --regid=65534 --clear-groups socat ABSTRACT-LISTEN:vpcctl/host-lock,fork /dev/null >/dev/null 2>&1 & echo $! >> /run/vpcctl-sandbox/by-hand.pids; sleep 0.3
         setpriv --reuid=65534 --regid=65534 --clear-groups flock -n /run/vpcctl/host-$(stat -L -c %i /proc/self/ns/net).lock true",
    );
    assert!(!squat.ok(), "nobody could take the lock file: {squat:?}");
    let out = sb.sh("timeout 20 $VPCCTL add-subnet vpc1 a 10.10.1.0/24");
    assert!(out.ok(), "add-subnet was blocked: {out:?}");
    sb.end_by_hand();
    // A run that hangs holding it makes the next give up in time, naming it.
    sb.ip_shim(1, "hang");
    let out = sb.sh(
        "PATH=/run/vpcctl-sandbox/shim:$PATH $VPCCTL add-subnet vpc1 b 10.10.2.0/24 >/dev/null 2>&1 & pid=$!
         for i in $(seq 200); do [ -s /run/vpcctl-sandbox/shim/hung ] && break; sleep 0.05; done
         VPCCTL_LOCK_TIMEOUT=1 timeout 20 $VPCCTL add-subnet vpc1 c 10.10.3.0/24 2>&1; echo \"same dir: $?\"
         VPCCTL_LOCK_TIMEOUT=1 timeout 20 $VPCCTL --state-dir /run/vpcctl-sandbox/other create-vpc vpc2 10.20.0.0/16 2>&1; echo \"other dir: $?\"
         kill -9 $pid; kill -9 $(cat /run/vpcctl-sandbox/shim/hung); wait $pid; rm -rf /run/vpcctl-sandbox/other",
    );
    let holder = "add-subnet vpc1 b 10.10.2.0/24)";
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines[0].contains("/var/lib/vpcctl/state.lock for 1 s (pid ") && lines[0].contains(holder), "{out:?}");
    assert_eq!(lines[1], "same dir: 3");
    assert!(lines[2].contains("/run/vpcctl/host-") && lines[2].contains(holder), "{out:?}");
    assert_eq!(lines[3], "other dir: 3");
    sb.v(&["teardown-all", "--auto-approve"]);
    assert_eq!(sb.snapshot(), snap);
}

/// vpc1 (web public with an EIP and port 80 exposed, db private, no NAT)
/// and vpc2 (x, public with NAT): vpc2 can reach the uplink's addresses.
fn eip_and_a_neighbour(sb: &Sandbox) {
    sb.v(&["create-vpc", "vpc1", "10.10.0.0/16"]);
    sb.v(&["add-subnet", "vpc1", "web", "10.10.1.0/24", "--public"]);
    sb.v(&["add-subnet", "vpc1", "db", "10.10.2.0/24"]);
    sb.v(&["deploy-app", "vpc1", "web", "--port", "8080"]);
    sb.v(&["associate-eip", "vpc1", "web", "--ip", "203.0.113.10"]);
    sb.v(&["expose", "vpc1", "web", "--port", "8080", "--host-port", "80"]);
    sb.v(&["create-vpc", "vpc2", "10.20.0.0/16"]);
    sb.v(&["add-subnet", "vpc2", "x", "10.20.1.0/24", "--public"]);
    sb.v(&["enable-nat", "vpc2"]);
    assert!(sb.curl("internet", "http://203.0.113.10:8080/").is_some(), "the EIP from the internet");
    assert!(sb.curl("internet", "http://203.0.113.2:80/").is_some(), "the exposed port from the internet");
    assert!(sb.curl("ns-vpc2-x", "http://198.51.100.80/").is_some(), "vpc2 reaches the internet");
}

#[test]
fn another_vpc_cannot_come_in_through_an_eip_or_an_exposed_port() {
    let sb = sandbox!();
    sb.docker_like_host();
    let snap = sb.snapshot();
    eip_and_a_neighbour(&sb);
    assert!(sb.curl("ns-vpc2-x", "http://203.0.113.10:8080/").is_none(), "vpc2 reached vpc1/web through its EIP");
    assert!(sb.curl("ns-vpc2-x", "http://203.0.113.2:80/").is_none(), "vpc2 reached vpc1/web through the exposed port");
    let explain = sb.vpcctl(&["test-connectivity", "vpc2", "x", "203.0.113.10", "--port", "8080", "--explain"]);
    assert!(!explain.ok() && explain.stdout.contains("is the elastic IP of vpc1/web"), "the analyzer disagrees: {explain:?}");
    // The host itself still reaches both (OUTPUT).
    assert!(sb.curl_host("http://203.0.113.10:8080/").is_some_and(|b| b.contains("subnet web")), "the host to the EIP");
    assert!(sb.curl_host("http://203.0.113.2:80/").is_some(), "the host to the exposed port");
    sb.v(&["teardown-all", "--auto-approve"]);
    assert_eq!(sb.snapshot(), snap);
}

#[test]
fn the_internet_cannot_claim_a_vpc_address_or_reach_a_private_one() {
    let sb = sandbox!();
    sb.docker_like_host();
    let snap = sb.snapshot();
    eip_and_a_neighbour(&sb);
    // Count what reaches web "from" db's address.
    sb.ok("ip netns exec ns-vpc1-web iptables -w -t raw -A PREROUTING -s 10.10.2.2 -j ACCEPT
           ip netns exec internet ip addr add 10.10.2.2/32 dev lo");
    for url in ["http://203.0.113.10:8080/", "http://203.0.113.2:80/"] {
        sb.sh(&format!("ip netns exec internet curl -s -m 1 --interface 10.10.2.2 {url}"));
    }
    let seen = sb.ok("ip netns exec ns-vpc1-web iptables -w -t raw -L PREROUTING -v -x -n | awk '/10.10.2.2/ {print $1}'");
    assert_eq!(seen.trim(), "0", "a packet from the uplink claiming 10.10.2.2 reached web");
    sb.ok("ip netns exec internet ip addr del 10.10.2.2/32 dev lo");
    // With a route to the VPC, the subnet's own address answers nothing
    // from outside: the EIP opens the EIP, not the subnet.
    sb.ok("ip -n internet route add 10.10.0.0/16 via 203.0.113.2");
    assert!(sb.curl("internet", "http://10.10.1.2:8080/").is_none(), "web's private address answered the internet");
    assert!(!sb.ping("internet", "10.10.1.2"), "web's private address answered a ping");
    sb.ok("ip -n internet route del 10.10.0.0/16 via 203.0.113.2");
    sb.v(&["teardown-all", "--auto-approve"]);
    assert_eq!(sb.snapshot(), snap);
}

#[test]
fn an_eip_without_nat_never_reaches_metadata_addresses() {
    let sb = sandbox!();
    sb.docker_like_host();
    sb.ok("ip -n internet addr add 169.254.169.254/32 dev lo");
    let snap = sb.snapshot();
    sb.v(&["create-vpc", "vpc1", "10.10.0.0/16"]);
    sb.v(&["add-subnet", "vpc1", "web", "10.10.1.0/24", "--public"]);
    sb.v(&["associate-eip", "vpc1", "web", "--ip", "203.0.113.10"]);
    assert!(sb.curl("ns-vpc1-web", "http://198.51.100.80/").is_some_and(|b| b.contains("you are 203.0.113.10")), "out through the EIP");
    assert!(!sb.ping("ns-vpc1-web", "169.254.169.254"), "web reached a metadata address through its EIP");
    sb.v(&["teardown-all", "--auto-approve"]);
    assert_eq!(sb.snapshot(), snap);
}

/// The recorded app (pid, uid) of `vpc/subnet`.
fn app_of(sb: &Sandbox, vpc: &str, subnet: &str) -> (u32, u32) {
    let st: serde_json::Value = serde_json::from_str(&sb.state_json()).unwrap();
    let v = st["vpcs"].as_array().unwrap().iter().find(|v| v["name"] == vpc).unwrap();
    let s = v["subnets"].as_array().unwrap().iter().find(|s| s["name"] == subnet).unwrap();
    let a = &s["apps"][0];
    (a["pid"].as_u64().unwrap() as u32, a["uid"].as_u64().unwrap_or(u64::MAX) as u32)
}

fn resolver_pid(sb: &Sandbox, vpc: &str) -> u32 {
    let st: serde_json::Value = serde_json::from_str(&sb.state_json()).unwrap();
    let v = st["vpcs"].as_array().unwrap().iter().find(|v| v["name"] == vpc).unwrap();
    v["dns"]["process"]["pid"].as_u64().unwrap() as u32
}

#[test]
fn an_apps_user_cannot_signal_trace_or_read_another_vpcs_app_or_a_resolver() {
    let sb = sandbox!();
    sb.docker_like_host();
    let snap = sb.snapshot();
    sb.v(&["create-vpc", "vpc1", "10.10.0.0/16"]);
    sb.v(&["add-subnet", "vpc1", "web", "10.10.1.0/24"]);
    sb.v(&["create-vpc", "vpc2", "10.20.0.0/16"]);
    sb.v(&["add-subnet", "vpc2", "x", "10.20.1.0/24"]);
    // Root's environment holds a secret; sudo gave vpcctl supplementary groups.
    sb.ok("SECRET=hunter2 setpriv --groups 4,27 $VPCCTL deploy-app vpc1 web --port 8080 >/dev/null");
    sb.ok("SECRET=hunter2 $VPCCTL deploy-app vpc2 x --port 8080 >/dev/null");
    let (a_rec, a_uid) = app_of(&sb, "vpc1", "web");
    let (b_rec, b_uid) = app_of(&sb, "vpc2", "x");
    let (a, b) = (sb.app_process(a_rec), sb.app_process(b_rec));
    assert_eq!(sb.ok(&format!("awk '/^Uid/ {{print $2}}' /proc/{a}/status")).trim(), a_uid.to_string());
    // Each in a PID namespace of its own: it sees its init and itself.
    assert_eq!(sb.ok(&format!("ls /proc/{a}/root/proc | grep -c '^[0-9]'")).trim(), "2", "app a sees other processes");
    assert_ne!(a_uid, b_uid, "each app its own uid");
    assert!(a_uid >= 0x7000_0000 && b_uid >= 0x7000_0000, "from vpcctl's range: {a_uid} {b_uid}");
    // A clean environment, and no groups but its own.
    let environ = sb.ok(&format!("tr '\\0' '\\n' < /proc/{a}/environ"));
    assert_eq!(environ, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nHOME=/\nLANG=C.UTF-8\n");
    assert_eq!(sb.ok(&format!("grep ^Groups: /proc/{a}/status")).split_whitespace().count(), 1, "supplementary groups leaked in");
    // As app a's user: nothing of app b or of either resolver is reachable.
    let as_a = |what: &str| sb.sh(&format!("setpriv --reuid={a_uid} --regid={a_uid} --clear-groups bash -c '{what}'")).ok();
    assert!(as_a(&format!("exec 3< /proc/{a}/mem")), "control: a may trace itself");
    for target in [b, b_rec.into(), resolver_pid(&sb, "vpc1").into(), resolver_pid(&sb, "vpc2").into()] {
        assert!(!as_a(&format!("kill -0 {target}")), "a can signal {target}");
        assert!(!as_a(&format!("exec 3< /proc/{target}/mem")), "a can ptrace {target}");
        assert!(!as_a(&format!("cat /proc/{target}/environ")), "a can read {target}'s environment");
        assert!(!as_a(&format!("cat /proc/{target}/maps")), "a can read {target}'s maps");
    }
    sb.v(&["teardown-all", "--auto-approve"]);
    assert_eq!(sb.snapshot(), snap);
}

#[test]
fn an_apps_children_die_with_it() {
    let sb = sandbox!();
    sb.docker_like_host();
    let snap = sb.snapshot();
    sb.v(&["create-vpc", "vpc1", "10.10.0.0/16"]);
    sb.v(&["add-subnet", "vpc1", "web", "10.10.1.0/24"]);
    let escape = "setsid sleep 1000 & exec $0 serve --port 8080";
    sb.ok(&format!("$VPCCTL deploy-app vpc1 web --port 8080 -- sh -c '{escape}' $VPCCTL >/dev/null"));
    assert!(sb.sh("pgrep -f 'sleep 1000'").ok(), "the child runs");
    sb.v(&["stop-app", "vpc1", "web"]);
    assert!(!sb.sh("pgrep -f 'sleep 1000'").ok(), "stop-app left the app's child running");
    sb.ok(&format!("$VPCCTL deploy-app vpc1 web --port 8080 -- sh -c '{escape}' $VPCCTL >/dev/null"));
    let cgroup = sb.ok("sed -n 's/^0:://p' /proc/$(pgrep -f '^sleep 1000$')/cgroup").trim().to_string();
    assert!(cgroup.starts_with("/vpcctl.apps/"), "the app's child is in the app's cgroup: {cgroup}");
    sb.v(&["delete-subnet", "vpc1", "web"]);
    assert!(!sb.sh("pgrep -f 'sleep 1000'").ok(), "delete-subnet left the app's child running");
    assert!(!sb.sh(&format!("test -e /sys/fs/cgroup{cgroup}")).ok(), "the app's cgroup {cgroup} was left behind");
    sb.v(&["teardown-all", "--auto-approve"]);
    assert_eq!(sb.snapshot(), snap);
}

#[test]
fn doctor_sees_a_stopped_resolver_or_log_daemon_and_repair_restarts_them() {
    let sb = sandbox!();
    sb.docker_like_host();
    let snap = sb.snapshot();
    sb.v(&["create-vpc", "vpc1", "10.10.0.0/16"]);
    sb.v(&["add-subnet", "vpc1", "web", "10.10.1.0/24"]);
    sb.v(&["flow-logs", "enable", "vpc1"]);
    assert!(sb.vpcctl(&["doctor"]).ok());
    let resolver = resolver_pid(&sb, "vpc1");
    sb.ok(&format!("kill -STOP {resolver}; kill -STOP $(pgrep -x ulogd)"));
    let doctor = sb.vpcctl(&["doctor"]);
    assert!(!doctor.ok(), "{doctor:?}");
    assert!(doctor.stdout.contains("resolver (dnsmasq) is not running, or is stopped"), "{doctor:?}");
    assert!(doctor.stdout.contains("flow-log collector (or its ulogd) is not running, or is stopped"), "{doctor:?}");
    sb.v(&["repair"]);
    assert!(sb.vpcctl(&["doctor"]).ok(), "repair left drift");
    assert_ne!(resolver_pid(&sb, "vpc1"), resolver, "a new resolver");
    assert_eq!(sb.ok("ps -C ulogd,dnsmasq -o stat= | grep -c '^T' || true").trim(), "0", "nothing stopped remains");
    let name = sb.sh("ip netns exec ns-vpc1-web getent hosts web.vpc1.internal");
    assert!(name.ok(), "names resolve again: {name:?}");
    sb.v(&["teardown-all", "--auto-approve"]);
    assert_eq!(sb.snapshot(), snap);
}

#[test]
fn one_delete_removes_a_vpc_whose_create_failed_in_ebtables() {
    let sb = sandbox!();
    // A host whose bridge family has no table yet (no Docker, no libvirt).
    let links = sb.ok("ip -o link | awk '{print $2}' | sort; ip netns");
    // ebtables-restore fails once, without doing anything, then works.
    sb.ok(r#"mkdir -p /run/vpcctl-sandbox/shim
cat > /run/vpcctl-sandbox/shim/ebtables-restore <<'SHIM'
#!/bin/bash
if [ ! -e /run/vpcctl-sandbox/shim/failed ]; then touch /run/vpcctl-sandbox/shim/failed; echo "shim: failing" >&2; exit 1; fi
exec "$(PATH=/usr/sbin:/sbin:/usr/bin:/bin command -v ebtables-restore)" "$@"
SHIM
chmod +x /run/vpcctl-sandbox/shim/ebtables-restore"#);
    let out = sb.sh("PATH=/run/vpcctl-sandbox/shim:$PATH $VPCCTL create-vpc vpc1 10.10.0.0/16");
    assert!(!out.ok() && out.stderr.contains("shim: failing"), "{out:?}");
    // Whatever the failed create left, one delete (or nothing) ends it.
    let recorded = || sb.v(&["list", "--json"]).contains(r#""name": "vpc1""#);
    if recorded() {
        let del = sb.vpcctl(&["delete", "vpc1"]);
        assert!(del.ok(), "the first delete failed: {del:?}");
    }
    assert!(!recorded());
    assert_eq!(sb.ok("ip -o link | awk '{print $2}' | sort; ip netns"), links);
    assert!(!sb.ok("iptables-save; ebtables-save").contains("VPCCTL"), "chains of ours were left");
    assert!(sb.vpcctl(&["doctor"]).ok());
}

/// `stat -c '%a %U %G'` of each path.
fn modes(sb: &Sandbox, paths: &[&str]) -> Vec<String> {
    paths.iter().map(|p| sb.ok(&format!("stat -c '%a %U %G' {p}")).trim().to_string()).collect()
}

#[test]
fn file_modes_hold_under_umask_000_and_a_planted_link_is_not_followed() {
    let sb = sandbox!();
    sb.docker_like_host();
    let snap = sb.snapshot();
    // A root-only file that a planted link points at.
    sb.ok("echo secret > /run/vpcctl-sandbox/victim; chmod 600 /run/vpcctl-sandbox/victim");
    sb.ok("mkdir -p /var/lib/vpcctl/flow-logs; ln -s /run/vpcctl-sandbox/victim /var/lib/vpcctl/flow-logs/ulogd.conf");
    sb.ok("umask 000
           $VPCCTL create-vpc vpc1 10.10.0.0/16 >/dev/null
           $VPCCTL add-subnet vpc1 web 10.10.1.0/24 >/dev/null
           $VPCCTL add-subnet vpc1 db 10.10.2.0/24 >/dev/null
           $VPCCTL deploy-app vpc1 web --port 8080 >/dev/null
           $VPCCTL flow-logs enable vpc1 >/dev/null");
    assert_eq!(sb.ok("cat /run/vpcctl-sandbox/victim"), "secret\n", "flow-logs enable wrote through the link");
    assert_eq!(sb.ok("stat -c %F /var/lib/vpcctl/flow-logs/ulogd.conf").trim(), "regular file");
    let group = sb.ok("id -gn $(getent passwd vpcctl-dns >/dev/null && echo vpcctl-dns || echo nobody)").trim().to_string();
    let got = modes(
        &sb,
        &[
            "/var/lib/vpcctl/state.json",
            "/var/lib/vpcctl/apps",
            "/var/lib/vpcctl/apps/vpc1",
            "/var/lib/vpcctl/apps/vpc1/web-8080.log",
            "/var/lib/vpcctl/flow-logs",
            "/var/lib/vpcctl/flow-logs/ulogd.conf",
            "/var/lib/vpcctl/flow-logs/control.sock",
            "/var/lib/vpcctl/dns",
            "/var/lib/vpcctl/dns/vpc1",
            "/var/lib/vpcctl/dns/vpc1/hosts",
            "/etc/netns/ns-vpc1-web/resolv.conf",
        ],
    );
    let want: Vec<String> = [
        // State is readable by all: read-only commands need no root.
        "644 root root",
        "700 root root",
        "700 root root",
        "600 root root",
        "700 root root",
        "600 root root",
        "600 root root",
        "711 root root",
        &format!("750 root {group}"),
        &format!("640 root {group}"),
        "644 root root",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(got, want);
    // Records (once written) are root's too; nobody plants anything anywhere.
    sb.ok("ip netns exec ns-vpc1-web ping -c1 10.10.2.2 >/dev/null; $VPCCTL flow-logs show vpc1 >/dev/null");
    assert_eq!(modes(&sb, &["/var/lib/vpcctl/flow-logs/records.jsonl"]), ["600 root root"]);
    for dir in ["/var/lib/vpcctl", "/var/lib/vpcctl/apps/vpc1", "/var/lib/vpcctl/flow-logs", "/var/lib/vpcctl/dns/vpc1"] {
        let plant = sb.sh(&format!("setpriv --reuid=65534 --regid=65534 --clear-groups ln -s /etc/shadow {dir}/planted"));
        assert!(!plant.ok(), "nobody planted a link in {dir}");
    }
    // Names still resolve (the resolver reads its 0640 hosts file).
    assert!(sb.sh("ip netns exec ns-vpc1-web getent hosts web.vpc1.internal").ok());
    sb.v(&["teardown-all", "--auto-approve"]);
    sb.ok("rm -f /run/vpcctl-sandbox/victim");
    assert_eq!(sb.snapshot(), snap);
}

#[test]
fn doubtful_requests_are_refused_before_anything_changes() {
    let sb = sandbox!();
    sb.docker_like_host();
    sb.v(&["create-vpc", "vpc1", "10.10.0.0/16"]);
    sb.v(&["add-subnet", "vpc1", "web", "10.10.1.0/24", "--public"]);
    let rules = sb.rules();
    // The uplink's gateway is not a free address.
    sb.refused(&["associate-eip", "vpc1", "web", "--ip", "203.0.113.1"], "203.0.113.1 is the gateway of uplink uplink0");
    // A port a host service listens on is not free.
    sb.ok("$VPCCTL serve --port 8088 >/dev/null 2>&1 & echo $! >> /run/vpcctl-sandbox/by-hand.pids; sleep 0.3");
    sb.refused(
        &["expose", "vpc1", "web", "--port", "80", "--host-port", "8088"],
        "host port 8088 is already in use by a service of this host",
    );
    sb.end_by_hand();
    // A user name is checked, dry run or not: it would reach a shell line.
    sb.refused(&["--dry-run", "deploy-app", "vpc1", "web", "--port", "9000", "--user", "x;touch /x;"], "no user named \"x;touch /x;\"");
    assert!(!sb.sh("test -e /x").ok());
    assert_eq!(sb.rules(), rules, "a refusal changed the firewall");
    // A state dir its group may write is refused (0770 as well as 0777).
    for mode in ["770", "777"] {
        sb.ok(&format!("chmod {mode} /var/lib/vpcctl"));
        sb.refused(&["add-subnet", "vpc1", "db", "10.10.2.0/24"], "writable by its group or by everyone");
    }
    sb.ok("chmod 700 /var/lib/vpcctl");
    sb.v(&["teardown-all", "--auto-approve"]);
}

/// Rewrite one field of the state file (a JSON pointer) to `value`.
fn tamper(sb: &Sandbox, pointer: &str, value: serde_json::Value) {
    let mut st: serde_json::Value = serde_json::from_str(&sb.state_json()).unwrap();
    // Set it, or add it where a field left empty is not written.
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    match st.pointer_mut(parent).unwrap_or_else(|| panic!("no {parent} in the state")) {
        serde_json::Value::Object(o) => {
            o.insert(key.to_string(), value);
        }
        other => *other.pointer_mut(&format!("/{key}")).unwrap_or_else(|| panic!("no {pointer} in the state")) = value,
    }
    sb.ok(&format!("cat > /var/lib/vpcctl/state.json <<'EOF'\n{}\nEOF", serde_json::to_string_pretty(&st).unwrap()));
}

#[test]
fn tampered_state_is_refused_in_every_field_that_reaches_a_command_line() {
    use serde_json::json;
    let sb = sandbox!();
    sb.docker_like_host();
    sb.v(&["create-vpc", "vpc1", "10.10.0.0/16"]);
    sb.v(&["add-subnet", "vpc1", "web", "10.10.1.0/24", "--public"]);
    sb.v(&["enable-nat", "vpc1"]);
    sb.v(&["expose", "vpc1", "web", "--port", "8080", "--host-port", "80"]);
    sb.v(&["associate-eip", "vpc1", "web", "--ip", "203.0.113.10"]);
    sb.v(&["deploy-app", "vpc1", "web", "--port", "8080"]);
    let good = sb.state_json();
    let rules = sb.rules();
    let evil = "uplink0\n-A INPUT -j ACCEPT";
    let cases: Vec<(&str, serde_json::Value, &str)> = vec![
        ("/vpcs/0/nat/interface", json!(evil), "vpcs[0].nat.interface"),
        ("/vpcs/0/expose/0/interface", json!(evil), "vpcs[0].expose[0].interface"),
        ("/vpcs/0/eips/0/interface", json!(evil), "vpcs[0].eips[0].interface"),
        ("/vpcs/0/subnets/0/veth", json!("v-x;reboot"), "vpcs[0].subnets[0].veth"),
        ("/vpcs/0/link_group", json!(0), "vpcs[0].link_group"),
        ("/host/chain_suffix", json!("-x -j ACCEPT"), "host.chain_suffix"),
        ("/vpcs/0/subnets/0/cidr", json!("10.99.1.0/24"), "vpcs[0].subnets[0].cidr"),
        ("/vpcs/0/cidr", json!("0.0.0.0/0"), "vpcs[0].cidr"),
        ("/vpcs/0/subnets/0/apps/0/command", json!([]), "vpcs[0].subnets[0].apps[0].command"),
        ("/vpcs/0/subnets/0/apps/0/user", json!("x;touch /x"), "vpcs[0].subnets[0].apps[0].user"),
        ("/vpcs/0/subnets/0/apps/0/uid", json!(0), "vpcs[0].subnets[0].apps[0].uid"),
    ];
    for (pointer, value, field) in cases {
        tamper(&sb, pointer, value);
        let out = sb.refused(&["add-subnet", "vpc1", "db", "10.10.2.0/24"], field);
        assert!(out.stderr.contains("which vpcctl never writes") && out.code == 3, "{pointer}: {out:?}");
        assert_eq!(sb.rules(), rules, "{pointer}: something ran");
        sb.ok(&format!("cat > /var/lib/vpcctl/state.json <<'EOF'\n{good}\nEOF"));
    }
    sb.v(&["teardown-all", "--auto-approve"]);
}

#[test]
fn dns_is_open_to_a_subnets_own_resolver_only() {
    let sb = sandbox!();
    sb.docker_like_host();
    sb.v(&["create-vpc", "vpc1", "10.10.0.0/16"]);
    sb.v(&["add-subnet", "vpc1", "web", "10.10.1.0/24", "--public"]);
    sb.v(&["add-subnet", "vpc1", "db", "10.10.2.0/24"]);
    sb.v(&["enable-nat", "vpc1"]);
    sb.v(&["deploy-app", "vpc1", "db", "--port", "53"]);
    let connect = |ip: &str| sb.sh(&format!("ip netns exec ns-vpc1-web timeout 3 bash -c 'exec 3<>/dev/tcp/{ip}/53'")).ok();
    // A real query for example.test, over UDP straight to the upstream
    // server; its log counts what arrived.
    let ask_upstream = || {
        let q = r"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x04test\x00\x00\x01\x00\x01";
        sb.sh(&format!("printf '{q}' | ip netns exec ns-vpc1-web timeout 2 socat -u - UDP4-DATAGRAM:198.51.100.53:53; sleep 0.3"));
        sb.ok("grep -c 'query\\[A\\] example.test from 203.0.113.2' /run/vpcctl-sandbox/upstream-dns.log || true")
            .trim()
            .parse::<u32>()
            .unwrap()
    };
    // Control: without a policy, DNS goes anywhere.
    assert!(connect("198.51.100.53") && connect("10.10.2.2"));
    let asked = ask_upstream();
    assert!(asked > 0, "the control query did not arrive");
    let deny = sb.file("deny-out.json", r#"{"default_egress": "deny", "egress": []}"#);
    sb.v(&["apply-policy", "vpc1", "web", &deny]);
    assert!(!connect("198.51.100.53"), "DNS to the internet passed default_egress deny");
    assert!(!connect("10.10.2.2"), "port 53 of another subnet passed default_egress deny");
    assert_eq!(ask_upstream(), asked, "a UDP query from web reached the upstream server directly");
    // Its own resolver, at its own address, still answers names; the
    // gateways do not (the host is not a service), nor does it answer
    // another VPC.
    assert!(sb.ok("cat /etc/netns/ns-vpc1-web/resolv.conf").contains("nameserver 169.254.53.1"));
    assert!(sb.sh("ip netns exec ns-vpc1-web getent hosts db.vpc1.internal").ok(), "the own resolver is exempt");
    assert!(connect("169.254.53.1"), "TCP 53 to the own resolver is exempt");
    assert!(!connect("10.10.1.1"), "the gateway is not a resolver any more");
    sb.v(&["create-vpc", "vpc2", "10.20.0.0/16"]);
    sb.v(&["add-subnet", "vpc2", "api", "10.20.1.0/24"]);
    assert!(sb.ok("cat /etc/netns/ns-vpc2-api/resolv.conf").contains("nameserver 169.254.53.2"));
    let other = sb.sh("ip netns exec ns-vpc2-api timeout 3 bash -c 'exec 3<>/dev/tcp/169.254.53.1/53'");
    assert!(!other.ok(), "vpc2 asked vpc1's resolver");
    assert!(sb.sh("ip netns exec ns-vpc2-api getent hosts api.vpc2.internal").ok());
    assert!(!sb.sh("ip netns exec ns-vpc2-api getent hosts db.vpc1.internal").ok(), "vpc1's names are not vpc2's");
    sb.v(&["teardown-all", "--auto-approve"]);
}

#[test]
fn an_exposed_private_subnet_cannot_leave_from_its_exposed_port() {
    let sb = sandbox!();
    sb.docker_like_host();
    sb.v(&["create-vpc", "vpc1", "10.10.0.0/16"]);
    sb.v(&["add-subnet", "vpc1", "db", "10.10.2.0/24"]);
    sb.v(&["deploy-app", "vpc1", "db", "--port", "5432"]);
    sb.v(&["expose", "vpc1", "db", "--port", "5432", "--host-port", "5432", "--allow-private"]);
    // The app stops (the forward stays), and db opens a connection out
    // *from* the exposed port (before any connection in, whose TIME-WAIT
    // would keep the port from being bound).
    sb.v(&["stop-app", "vpc1", "db"]);
    let out = sb.sh("ip netns exec ns-vpc1-db curl -s -m 2 --local-port 5432 http://198.51.100.80/");
    assert_eq!(out.code, 28, "db left from its exposed port (or never tried): {out:?}");
    assert_eq!(sb.leaked(), 0, "a private source reached the internet");
    // Control: the forward itself works.
    sb.v(&["deploy-app", "vpc1", "db", "--port", "5432"]);
    assert!(sb.curl("internet", "http://203.0.113.2:5432/").is_some(), "the exposed port works");
    sb.v(&["teardown-all", "--auto-approve"]);
}

#[test]
fn a_flood_of_flows_keeps_the_records_under_their_cap_and_says_so() {
    let sb = sandbox!();
    sb.docker_like_host();
    let snap = sb.snapshot();
    sb.v(&["create-vpc", "vpc1", "10.10.0.0/16"]);
    sb.v(&["add-subnet", "vpc1", "web", "10.10.1.0/24"]);
    sb.v(&["add-subnet", "vpc1", "db", "10.10.2.0/24"]);
    sb.v(&["flow-logs", "enable", "vpc1", "--window", "60"]);
    // 40,000 UDP datagrams to as many ports (bounded; a few seconds),
    // paced over more than 5 s: the log rules take 2,000 packets a second
    // after a burst of 4,000, and a fast machine sends all 40,000 in less
    // than one, so too few flows would be logged to pass the cap.
    sb.ok("ip netns exec ns-vpc1-web bash -c 'for b in $(seq 0 9); do for p in $(seq $((b * 4000 + 1)) $((b * 4000 + 4000))); do echo > /dev/udp/10.10.2.2/$p; done; sleep 0.6; done' 2>/dev/null || true");
    let out = sb.v(&["flow-logs", "show", "vpc1"]);
    let skip: Vec<&str> = out.lines().filter(|l| l.ends_with("SKIPDATA")).collect();
    assert!(!skip.is_empty(), "the overflow is not reported: {} lines", out.lines().count());
    let size: u64 = sb.ok("cat /var/lib/vpcctl/flow-logs/records.jsonl* | wc -c").trim().parse().unwrap();
    assert!(size <= 4 << 20, "records take {size} bytes, over their 4 MiB cap");
    let rss: u64 = sb.ok("ps -o rss= -C vpcctl | sort -n | tail -1").trim().parse().unwrap();
    assert!(rss < 64 * 1024, "a vpcctl process grew to {rss} KiB");
    sb.v(&["teardown-all", "--auto-approve"]);
    assert_eq!(sb.snapshot(), snap);
}

#[test]
fn a_resolver_can_keep_names_inside_and_refuse_rebinding() {
    let sb = sandbox!();
    sb.docker_like_host();
    let snap = sb.snapshot();
    let resolves = |ns: &str, name: &str| sb.sh(&format!("ip netns exec {ns} getent hosts {name}")).ok();
    // A new subnet's gateway is bound by its resolver a moment after
    // add-subnet returns (--bind-dynamic): the names a test expects wait
    // for that, so that the refusals after them are the resolver's own.
    let comes = |ns: &str, name: &str| {
        sb.sh(&format!("for i in $(seq 40); do ip netns exec {ns} getent hosts {name} >/dev/null && exit 0; sleep 0.05; done; exit 1")).ok()
    };
    sb.v(&["create-vpc", "open", "10.10.0.0/16"]);
    sb.v(&["add-subnet", "open", "web", "10.10.1.0/24"]);
    assert!(comes("ns-open-web", "web.open.internal"));
    assert!(resolves("ns-open-web", "example.test") && resolves("ns-open-web", "rebind.test"), "the default forwards everything");
    // No upstream: .internal names only, and nothing reaches the upstream server.
    sb.v(&["create-vpc", "closed", "10.20.0.0/16", "--no-dns-upstream"]);
    sb.v(&["add-subnet", "closed", "db", "10.20.1.0/24"]);
    let asked = sb.ok("grep -c 'secret-data.example.test' /run/vpcctl-sandbox/upstream-dns.log || true");
    assert!(comes("ns-closed-db", "db.closed.internal"));
    assert!(!resolves("ns-closed-db", "secret-data.example.test"), "a name went upstream");
    assert_eq!(sb.ok("grep -c 'secret-data.example.test' /run/vpcctl-sandbox/upstream-dns.log || true"), asked);
    // Stop rebinding: an outside name that answers a private address does not resolve.
    sb.v(&["create-vpc", "guarded", "10.30.0.0/16", "--stop-dns-rebind"]);
    sb.v(&["add-subnet", "guarded", "app", "10.30.1.0/24"]);
    // (dnsmasq counts the documentation ranges the fake internet uses as
    // private too, so only the VPC's own names are the control here.)
    assert!(comes("ns-guarded-app", "app.guarded.internal"));
    assert!(!resolves("ns-guarded-app", "rebind.test"), "a rebinding answer got through");
    // Both are topology keys, and survive export and apply.
    let export = sb.v(&["export"]);
    assert!(export.contains(r#""upstream": false"#) && export.contains(r#""stop_rebind": true"#), "{export}");
    let file = sb.file("export.json", &export);
    assert!(sb.v(&["plan", "-f", &file]).contains("no changes"));
    sb.v(&["teardown-all", "--auto-approve"]);
    assert_eq!(sb.snapshot(), snap);
}
