//! VPCs that span hosts: three simulated hosts (network namespaces on an
//! underlay bridge, each with its own state dir) apply one topology file,
//! and real packets cross the VXLAN overlay between them.

#[macro_use]
mod common;

use common::Sandbox;

const HOSTS: [&str; 3] = ["host1", "host2", "host3"];

/// shop: web (host1, public), app (host2), db (host3, public, with an
/// instance whose group admits web's subnet only). partner (host2) is
/// peered with shop, ext (host3) with partner only; other (host1) with none.
fn topology(app_host: &str) -> String {
    format!(
        r#"{{
  "hosts": {{
    "host1": {{"underlay": "192.0.2.11"}},
    "host2": {{"underlay": "192.0.2.12"}},
    "host3": {{"underlay": "192.0.2.13"}}
  }},
  "vpcs": {{
    "shop": {{
      "cidr": "10.1.0.0/16",
      "nat": true,
      "security_groups": {{"db": {{"ingress": [{{"protocol": "tcp", "port": 80, "cidr": "10.1.1.0/24"}}]}}}},
      "subnets": {{
        "web": {{"cidr": "10.1.1.0/24", "public": true, "host": "host1", "apps": [{{"port": 80}}]}},
        "app": {{"cidr": "10.1.2.0/24", "host": "{app_host}", "apps": [{{"port": 80}}]}},
        "db":  {{"cidr": "10.1.3.0/24", "public": true, "host": "host3", "apps": [{{"port": 80}}],
                 "instances": {{"db1": {{"ip": "10.1.3.10", "security_groups": ["db"], "apps": [{{"port": 80}}]}}}}}}
      }}
    }},
    "partner": {{"cidr": "10.2.0.0/16", "subnets": {{"p": {{"cidr": "10.2.1.0/24", "host": "host2", "apps": [{{"port": 80}}]}}}}}},
    "ext": {{"cidr": "10.3.0.0/16", "subnets": {{"e": {{"cidr": "10.3.1.0/24", "host": "host3", "apps": [{{"port": 80}}]}}}}}},
    "other": {{"cidr": "10.4.0.0/16", "subnets": {{"x": {{"cidr": "10.4.1.0/24", "host": "host1", "apps": [{{"port": 80}}]}}}}}}
  }},
  "peerings": [{{"vpcs": ["shop", "partner"]}}, {{"vpcs": ["partner", "ext"]}}]
}}"#
    )
}

fn apply_everywhere(sb: &Sandbox, file: &str, order: &[&str]) {
    for h in order {
        sb.v_on(h, &["apply", "-f", file, "--auto-approve"]);
    }
}

fn reaches(sb: &Sandbox, ns: &str, ip: &str) -> bool {
    sb.curl(ns, &format!("http://{ip}/")).is_some()
}

#[test]
fn three_hosts_one_file() {
    let sb = sandbox!();
    sb.hosts(3);
    let before: Vec<String> = HOSTS.iter().map(|h| sb.host_snapshot(h)).collect();
    let file = sb.file("multi.json", &topology("host2"));
    apply_everywhere(&sb, &file, &HOSTS);

    // One VPC on three hosts.
    for (from, to) in [("ns-shop-web", "10.1.2.2"), ("ns-shop-web", "10.1.3.2"), ("ns-shop-app", "10.1.1.2"), ("ns-shop-db", "10.1.2.2")] {
        assert!(reaches(&sb, from, to), "{from} -> {to}");
    }
    // Peering across hosts, and not transitive.
    assert!(reaches(&sb, "ns-shop-web", "10.2.1.2"), "shop (host1) -> partner (host2)");
    assert!(reaches(&sb, "ns-partner-p", "10.1.1.2"), "partner -> shop");
    assert!(reaches(&sb, "ns-partner-p", "10.3.1.2"), "partner (host2) -> ext (host3)");
    assert!(!reaches(&sb, "ns-shop-web", "10.3.1.2"), "shop -> ext through partner: peering is not transitive");
    assert!(!reaches(&sb, "ns-ext-e", "10.1.3.2"), "ext -> shop on the same host");
    // Isolation on one host and across hosts.
    assert!(!reaches(&sb, "ns-other-x", "10.1.1.2"), "other -> shop, both on host1");
    assert!(!reaches(&sb, "ns-other-x", "10.1.2.2"), "other (host1) -> shop (host2)");
    assert!(!reaches(&sb, "ns-shop-app", "10.4.1.2"), "shop (host2) -> other (host1)");
    // A security group on host 3: web's subnet (host1) in, app's (host2) not.
    assert!(reaches(&sb, "ns-shop-web", "10.1.3.10"), "db1 admits web");
    assert!(!reaches(&sb, "ns-shop-app", "10.1.3.10"), "db1 refuses app");
    // NAT per host: each public subnet leaves by its own host's uplink.
    assert_eq!(sb.curl("ns-shop-web", "http://198.51.100.80/").unwrap().trim(), "fake internet at 198.51.100.80:80; you are 192.0.2.11");
    assert_eq!(sb.curl("ns-shop-db", "http://198.51.100.80/").unwrap().trim(), "fake internet at 198.51.100.80:80; you are 192.0.2.13");
    assert!(sb.curl("ns-shop-app", "http://198.51.100.80/").is_none(), "app is private");
    assert_eq!(sb.leaked(), 0, "a private address reached the internet");
    // Names of every host's subnets and instances, from each host's resolver.
    assert!(sb.ok("ip netns exec ns-shop-web getent hosts db1.shop.internal").starts_with("10.1.3.10"));
    assert!(sb.ok("ip netns exec ns-shop-db getent hosts app").starts_with("10.1.2.2"));
    assert!(sb.ok("ip netns exec ns-partner-p getent hosts web.shop.internal").starts_with("10.1.1.2"));

    // check -f from host1, for its subnets, to any host's.
    let expect = sb.file(
        "expect.json",
        r#"{"expect": [
  {"from": "shop/web", "to": "shop/app", "protocol": "tcp", "port": 80, "reachable": true},
  {"from": "shop/web", "to": "shop/db1", "protocol": "tcp", "port": 80, "reachable": true},
  {"from": "shop/web", "to": "partner/p", "protocol": "tcp", "port": 80, "reachable": true},
  {"from": "other/x", "to": "shop/app", "protocol": "tcp", "port": 80, "reachable": false},
  {"from": "shop/web", "to": "ext/e", "protocol": "tcp", "port": 80, "reachable": false}
]}"#,
    );
    let checked = sb.on("host1", &["check", "-f", &expect]);
    assert!(checked.ok(), "{checked:?}");
    let elsewhere =
        sb.file("elsewhere.json", r#"{"expect": [{"from": "shop/app", "to": "shop/web", "protocol": "icmp", "reachable": true}]}"#);
    let out = sb.on("host1", &["check", "-f", &elsewhere]);
    assert!(!out.ok() && out.stderr.contains("lives on host host2"), "{out:?}");

    // Full-size packets: a don't-fragment ping of the interface's MTU, and 3 MB.
    let mtu: u32 = sb.ok("ip netns exec ns-shop-web cat /sys/class/net/eth0/mtu").trim().parse().unwrap();
    assert_eq!(mtu, 1450, "1500 on the underlay, less VXLAN's 50");
    let df = format!("ip netns exec ns-shop-web ping -c1 -W2 -M do -s {} 10.1.3.2", mtu - 28);
    assert!(sb.sh(&df).ok(), "{df}");
    sb.ok("ip netns exec ns-shop-db timeout 20 socat -u TCP-LISTEN:9000,reuseaddr OPEN:/run/vpcctl-sandbox/got,creat,trunc &
           sleep 0.3
           head -c 3145728 /dev/urandom > /run/vpcctl-sandbox/sent
           ip netns exec ns-shop-web timeout 20 socat -u OPEN:/run/vpcctl-sandbox/sent TCP:10.1.3.2:9000
           for _ in $(seq 100); do [ \"$(stat -c %s /run/vpcctl-sandbox/got)\" = 3145728 ] && break; sleep 0.1; done
           cmp /run/vpcctl-sandbox/sent /run/vpcctl-sandbox/got");

    // Nothing learned, nothing flooded: exactly the file's entries.
    let h1 = sb.sh_on("host1", "ip -d link show vx-shop; ip neigh show dev vx-shop; bridge fdb show dev vx-shop").stdout;
    assert!(h1.contains("nolearning") && h1.contains("dstport 4789"), "{h1}");
    assert_eq!(h1.lines().filter(|l| l.contains("PERMANENT")).count(), 2, "a neighbour per peer host\n{h1}");
    assert_eq!(h1.lines().filter(|l| l.contains(" dst 192.0.2.")).count(), 2, "an FDB entry per peer host\n{h1}");

    // A second apply, on every host, changes nothing.
    for h in HOSTS {
        let out = sb.on(h, &["plan", "-f", &file, "--detailed-exitcode"]);
        assert_eq!(out.code, 0, "{h}: {out:?}");
    }

    // export on a host: its share and where the rest lives; applying it
    // there changes nothing.
    let exported = sb.file("exported.json", &sb.v_on("host1", &["export"]));
    let replan = sb.on("host1", &["plan", "-f", &exported, "--detailed-exitcode"]);
    assert_eq!(replan.code, 0, "{replan:?}");

    stranger_is_not_admitted(&sb);

    // Drift in the overlay: doctor sees it, repair mends it.
    sb.sh_on("host1", "ip route del 10.1.3.0/24; bridge fdb del $(ip neigh show 169.254.2.13 dev vx-shop | awk '{print $3}') dev vx-shop dst 192.0.2.13 self");
    sb.sh_on("host2", "ip link del vx-shop");
    let d1 = sb.on("host1", &["doctor"]);
    assert!(!d1.ok() && d1.stdout.contains("route 10.1.3.0/24 via 169.254.2.13 dev vx-shop is missing"), "{d1:?}");
    assert!(d1.stdout.contains("fdb entry") && d1.stdout.contains("dst 192.0.2.13 is missing"), "{d1:?}");
    let d2 = sb.on("host2", &["doctor"]);
    assert!(!d2.ok() && d2.stdout.contains("tunnel device vx-shop is missing"), "{d2:?}");
    assert!(!reaches(&sb, "ns-shop-web", "10.1.3.2") && !reaches(&sb, "ns-shop-app", "10.1.1.2"));
    for h in ["host1", "host2"] {
        sb.v_on(h, &["repair"]);
        assert!(sb.on(h, &["doctor"]).ok(), "{h} still drifts");
    }
    assert!(reaches(&sb, "ns-shop-web", "10.1.3.2") && reaches(&sb, "ns-shop-app", "10.1.1.2"), "repaired overlay");

    // Move app from host2 to host3: apply everywhere, traffic flows after.
    // (Simulated hosts share /run/netns, so the host that gives up the
    // namespace name applies first; real hosts apply in any order.)
    let moved = sb.file("moved.json", &topology("host3"));
    apply_everywhere(&sb, &moved, &["host2", "host1", "host3"]);
    assert!(reaches(&sb, "ns-shop-web", "10.1.2.2"), "web -> app on its new host");
    assert!(reaches(&sb, "ns-shop-app", "10.1.1.2"), "app on its new host -> web");
    assert!(sb.sh_on("host2", "ip link show vx-partner").ok(), "host2 still has partner's subnet");
    assert!(sb.sh_on("host3", "ip route | grep -q '10.1.2.0/24 dev br-shop'").ok(), "app's gateway is on host3's bridge");
    assert!(sb.sh_on("host2", "ip route | grep -q '10.1.2.0/24 via 169.254.2.13 dev vx-shop onlink'").ok(), "host2 routes app to host3");

    for h in HOSTS {
        sb.v_on(h, &["teardown-all", "--auto-approve"]);
    }
    for (h, snap) in HOSTS.iter().zip(&before) {
        assert_eq!(&sb.host_snapshot(h), snap, "{h} not left as found");
    }
    assert_eq!(sb.ok("ip netns | grep -v -e '^host' -e '^internet' || true").trim(), "");
}

/// A namespace on the underlay that knows shop's VNI and host2's tunnel
/// MAC sends as app (host2's subnet) to web on host1: never delivered.
/// The same packet from app itself is (so the check can fail).
fn stranger_is_not_admitted(sb: &Sandbox) {
    let vni = sb.sh_on("host1", "ip -d link show vx-shop | grep -o 'vxlan id [0-9]*' | cut -d' ' -f3").stdout.trim().to_string();
    let host1_mac = sb.sh_on("host1", "cat /sys/class/net/vx-shop/address 2>/dev/null || ip link show vx-shop | awk '/ether/ {print $2}'");
    let host1_mac = host1_mac.stdout.trim().to_string();
    let host2_mac = sb.sh_on("host2", "ip link show vx-shop | awk '/ether/ {print $2}'").stdout.trim().to_string();
    assert!(!vni.is_empty() && !host2_mac.is_empty(), "{vni} {host2_mac}");
    sb.ok(&format!(
        "ip netns add stranger
         ip link add ul-stranger type veth peer name eth0 netns stranger
         ip link set ul-stranger master underlay0 up
         ip -n stranger addr add 192.0.2.99/24 dev eth0
         ip -n stranger link set eth0 up
         ip -n stranger link set lo up
         ip -n stranger link add vx type vxlan id {vni} local 192.0.2.99 dstport 4789 nolearning
         ip -n stranger link set vx address {host2_mac} up
         ip -n stranger addr add 10.1.2.2/32 dev vx
         ip -n stranger neigh add 169.254.2.11 lladdr {host1_mac} dev vx nud permanent
         ip -n stranger route add 10.1.1.0/24 via 169.254.2.11 dev vx onlink
         bridge -n stranger fdb append {host1_mac} dev vx dst 192.0.2.11 self permanent"
    ));
    let listen = "rm -f /run/vpcctl-sandbox/heard; ip netns exec ns-shop-web timeout 3 socat -u UDP-RECV:9999 OPEN:/run/vpcctl-sandbox/heard,creat,append & sleep 0.3";
    sb.ok(&format!("{listen}; for i in 1 2 3; do echo injected | ip netns exec stranger socat -u - UDP:10.1.1.2:9999,sourceport=5000; sleep 0.1; done; wait"));
    assert_eq!(sb.ok("cat /run/vpcctl-sandbox/heard 2>/dev/null || true").trim(), "", "the stranger's packet arrived");
    let dropped = sb.sh_on("host1", "iptables -w -L -v -x -n | grep 'vxlan from a stranger' | awk '{print $1}'").stdout;
    assert!(dropped.trim().parse::<u64>().unwrap_or(0) > 0, "the underlay guard saw nothing: {dropped}");
    sb.ok(&format!("{listen}; echo genuine | ip netns exec ns-shop-app socat -u - UDP:10.1.1.2:9999; wait"));
    assert_eq!(sb.ok("cat /run/vpcctl-sandbox/heard").trim(), "genuine");
    sb.ok("ip netns del stranger");
    // A peer host may send only its own subnets: host2 claiming host3's
    // subnet (10.1.3.0/24) is dropped at host1's tunnel; its own passes.
    sb.sh_on("host2", "ip addr add 10.1.3.99/32 dev lo; ip addr add 10.1.2.99/32 dev lo; ip addr add 198.51.100.99/32 dev lo");
    for (src, heard) in [("10.1.3.99", ""), ("198.51.100.99", ""), ("10.1.2.99", "claimed")] {
        sb.ok(&format!("{listen}; echo claimed | nsenter --net=/run/netns/host2 socat -u - UDP:10.1.1.2:9999,bind={src}; wait"));
        assert_eq!(sb.ok("cat /run/vpcctl-sandbox/heard 2>/dev/null || true").trim(), heard, "from {src}");
    }
    sb.sh_on("host2", "ip addr del 10.1.3.99/32 dev lo; ip addr del 10.1.2.99/32 dev lo; ip addr del 198.51.100.99/32 dev lo");
}

#[test]
fn wireguard_overlay_carries_traffic_and_no_plaintext_vxlan() {
    let sb = sandbox!();
    if which::which("wireguard-go").is_err() && !std::path::Path::new("/sys/module/wireguard").exists() {
        panic!("neither kernel WireGuard nor wireguard-go: scripts/deps.sh installs wireguard-go");
    }
    sb.hosts(2);
    let before: Vec<String> = ["host1", "host2"].iter().map(|h| sb.host_snapshot(h)).collect();
    let dry = sb.v_on("host1", &["--dry-run", "host-key"]);
    assert!(dry.contains("would create") && !sb.sh("test -e /run/vpcctl-sandbox/host1/wireguard.key").ok(), "{dry}");
    let k1 = sb.v_on("host1", &["host-key"]).trim().to_string();
    let k2 = sb.v_on("host2", &["host-key"]).trim().to_string();
    assert_eq!(sb.v_on("host1", &["host-key"]).trim(), k1, "host-key makes the key once");
    assert_eq!(sb.ok("stat -c %a /run/vpcctl-sandbox/host1/wireguard.key").trim(), "600");
    let file = sb.file(
        "wg.json",
        &format!(
            r#"{{"hosts": {{"host1": {{"underlay": "192.0.2.11", "wireguard_public_key": "{k1}"}},
                          "host2": {{"underlay": "192.0.2.12", "wireguard_public_key": "{k2}"}}}},
               "encryption": "wireguard",
               "vpcs": {{"shop": {{"cidr": "10.1.0.0/16", "subnets": {{
                  "web": {{"cidr": "10.1.1.0/24", "host": "host1", "apps": [{{"port": 80}}]}},
                  "app": {{"cidr": "10.1.2.0/24", "host": "host2", "apps": [{{"port": 80}}]}}}}}}}}}}"#
        ),
    );
    // Count what leaves each host on the underlay (rules of the test's own).
    for h in ["host1", "host2"] {
        sb.sh_on(h, "iptables -w -I OUTPUT -o eth0 -p udp --dport 4789; iptables -w -I OUTPUT -o eth0 -p udp --dport 51820");
    }
    apply_everywhere(&sb, &file, &["host2", "host1"]);
    assert!(reaches(&sb, "ns-shop-web", "10.1.2.2"), "web -> app over WireGuard");
    assert!(reaches(&sb, "ns-shop-app", "10.1.1.2"), "app -> web over WireGuard");
    let mtu: u32 = sb.ok("ip netns exec ns-shop-web cat /sys/class/net/eth0/mtu").trim().parse().unwrap();
    assert_eq!(mtu, 1370, "1500 less WireGuard's 80 and VXLAN's 50");
    assert!(sb.sh(&format!("ip netns exec ns-shop-web ping -c1 -W2 -M do -s {} 10.1.2.2", mtu - 28)).ok());
    for h in ["host1", "host2"] {
        let counts =
            sb.sh_on(h, "iptables -w -L OUTPUT -v -x -n | awk '/dpt:4789/ {print \"vxlan\", $1} /dpt:51820/ {print \"wg\", $1}'").stdout;
        assert!(counts.contains("vxlan 0\n"), "{h}: plaintext VXLAN on the underlay\n{counts}");
        assert!(!counts.contains("wg 0\n"), "{h}: nothing went through WireGuard\n{counts}");
    }
    // wireguard-go dies: doctor says so, repair starts it again.
    sb.sh_on("host1", "kill $(pgrep -f 'wireguard-go -f wg-host1')");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let d = sb.on("host1", &["doctor"]);
    assert!(!d.ok() && (d.stdout.contains("wireguard-go is not running") || d.stdout.contains("wg-host1 is missing")), "{d:?}");
    sb.v_on("host1", &["repair"]);
    assert!(sb.on("host1", &["doctor"]).ok());
    assert!(reaches(&sb, "ns-shop-web", "10.1.2.2"), "web -> app after repair");
    let peers = sb.v_on("host1", &["check", "--peers"]);
    assert!(peers.contains("host2") && peers.contains("reachable") && peers.contains("handshake"), "{peers}");
    assert_eq!(sb.on("host1", &["plan", "-f", &file, "--detailed-exitcode"]).code, 0);
    for h in ["host1", "host2"] {
        sb.v_on(h, &["teardown-all", "--auto-approve"]);
        sb.sh_on(h, "iptables -w -D OUTPUT -o eth0 -p udp --dport 4789; iptables -w -D OUTPUT -o eth0 -p udp --dport 51820");
    }
    for (h, snap) in ["host1", "host2"].iter().zip(&before) {
        assert_eq!(&sb.host_snapshot(h), snap, "{h} not left as found");
    }
    // (Zombies aside: the sandbox's init does not reap what vpcctl started.)
    let running = sb.ok("ps -e -o stat=,comm= | awk '$1 !~ /^Z/ && $2 == \"wireguard-go\"'");
    assert_eq!(running.trim(), "", "wireguard-go left running");
}

#[test]
fn a_file_with_hosts_is_checked_before_anything_changes() {
    let sb = sandbox!();
    sb.hosts(1);
    let bad = sb.file("bad.json", r#"{"hosts": {"host1": {"underlay": "192.0.2.11"}}, "vpcs": {"v": {"cidr": "10.1.0.0/16", "subnets": {"a": {"cidr": "10.1.1.0/24"}}}}}"#);
    let out = sb.on("host1", &["apply", "-f", &bad]);
    assert!(!out.ok() && out.stderr.contains("vpcs.v.subnets.a.host") && out.stderr.contains("is required"), "{out:?}");
    let unknown = sb.file("unknown.json", r#"{"hosts": {"host1": {"underlay": "192.0.2.11"}}, "vpcs": {"v": {"cidr": "10.1.0.0/16", "subnets": {"a": {"cidr": "10.1.1.0/24", "host": "host9"}}}}}"#);
    let out = sb.on("host1", &["apply", "-f", &unknown]);
    assert!(!out.ok() && out.stderr.contains("no host named 'host9'"), "{out:?}");
    let elsewhere = sb.file("elsewhere.json", r#"{"hosts": {"h7": {"underlay": "192.0.2.77"}}, "vpcs": {}}"#);
    let out = sb.on("host1", &["apply", "-f", &elsewhere]);
    assert!(!out.ok() && out.stderr.contains("--host"), "{out:?}");
    let wg = sb.file(
        "wg.json",
        r#"{"hosts": {"host1": {"underlay": "192.0.2.11", "wireguard_public_key": "x"}}, "encryption": "wireguard", "vpcs": {}}"#,
    );
    let out = sb.on("host1", &["apply", "-f", &wg]);
    assert!(!out.ok() && out.stderr.contains("vpcctl host-key"), "{out:?}");
    assert_eq!(sb.sh_on("host1", "iptables-save | grep -c VPCCTL || true").stdout.trim(), "0");

    // A one-host file that gains hosts: every port's MTU changes, so the
    // VPC is made again, and apply asks first.
    let one = sb.file("one.json", r#"{"vpcs": {"v": {"cidr": "10.1.0.0/16", "subnets": {"a": {"cidr": "10.1.1.0/24"}}}}}"#);
    sb.v_on("host1", &["apply", "-f", &one]);
    let two = sb.file(
        "two.json",
        r#"{"hosts": {"host1": {"underlay": "192.0.2.11"}}, "vpcs": {"v": {"cidr": "10.1.0.0/16", "subnets": {"a": {"cidr": "10.1.1.0/24", "host": "host1"}}}}}"#,
    );
    let plan = sb.v_on("host1", &["plan", "-f", &two]);
    assert!(plan.contains("-/+ vpc v") && plan.contains("MTU default -> 1450"), "{plan}");
    let out = sb.on("host1", &["apply", "-f", &two]);
    assert!(!out.ok() && out.stderr.contains("--auto-approve"), "{out:?}");
    sb.v_on("host1", &["apply", "-f", &two, "--auto-approve"]);
    assert_eq!(sb.ok("ip netns exec ns-v-a cat /sys/class/net/eth0/mtu").trim(), "1450");
    sb.v_on("host1", &["teardown-all", "--auto-approve"]);
}

/// A transit gateway whose spokes sit on host1 and hub on host2, and a
/// peering carried only where both sides' route tables send it, across hosts.
#[test]
fn transit_gateway_and_routed_peering_across_hosts() {
    let sb = sandbox!();
    sb.hosts(2);
    let tgw = r#""route_tables": {"main": {"routes": [{"destination": "10.0.0.0/8", "transit_gateway": "hub-tgw"}]}}"#;
    let file = sb.file(
        "routed.json",
        &format!(
            r#"{{
  "hosts": {{"host1": {{"underlay": "192.0.2.11"}}, "host2": {{"underlay": "192.0.2.12"}}}},
  "vpcs": {{
    "dev":    {{"cidr": "10.110.0.0/16", "subnets": {{"app": {{"cidr": "10.110.1.0/24", "host": "host1", "apps": [{{"port": 80}}]}}}}, {tgw}}},
    "prod":   {{"cidr": "10.111.0.0/16", "subnets": {{"app": {{"cidr": "10.111.1.0/24", "host": "host1", "apps": [{{"port": 80}}]}}}}, {tgw}}},
    "shared": {{"cidr": "10.112.0.0/16", "subnets": {{"log": {{"cidr": "10.112.1.0/24", "host": "host2", "apps": [{{"port": 80}}]}}}}, {tgw}}},
    "a": {{"cidr": "10.200.0.0/16",
          "subnets": {{"a1": {{"cidr": "10.200.1.0/24", "host": "host1", "apps": [{{"port": 80}}]}},
                       "a2": {{"cidr": "10.200.2.0/24", "host": "host1", "apps": [{{"port": 80}}]}}}},
          "route_tables": {{"main": {{"routes": [{{"destination": "10.201.0.0/16", "peering": "a-b"}}]}}, "closed": {{"subnets": ["a2"]}}}}}},
    "b": {{"cidr": "10.201.0.0/16",
          "subnets": {{"b1": {{"cidr": "10.201.1.0/24", "host": "host2", "apps": [{{"port": 80}}]}}}},
          "route_tables": {{"main": {{"routes": [{{"destination": "10.200.0.0/16", "peering": "a-b"}}]}}}}}},
    "az": {{"cidr": "10.210.0.0/16", "internet_gateway": true,
           "subnets": {{"pub": {{"cidr": "10.210.1.0/24", "public": true, "host": "host1"}},
                        "priv": {{"cidr": "10.210.2.0/24", "host": "host2", "apps": [{{"port": 80}}]}},
                        "db": {{"cidr": "10.210.3.0/24", "host": "host2"}}}},
           "nat_gateways": {{"ngw": {{"subnet": "pub"}}}},
           "route_tables": {{"public": {{"subnets": ["pub"], "routes": [{{"destination": "0.0.0.0/0", "gateway": "igw"}}]}},
                            "private": {{"subnets": ["priv"], "routes": [{{"destination": "0.0.0.0/0", "nat_gateway": "ngw"}}]}}}}}}
  }},
  "peerings": [{{"vpcs": ["a", "b"], "no_routes": true}}],
  "transit_gateways": {{"hub-tgw": {{"attachments": ["dev", "prod", "shared"], "route_tables": {{
      "spokes": {{"associations": ["dev", "prod"], "propagations": ["shared"]}},
      "hub": {{"associations": ["shared"], "propagations": ["dev", "prod"]}}}}}}}}
}}"#
        ),
    );
    let before: Vec<String> = ["host1", "host2"].iter().map(|h| sb.host_snapshot(h)).collect();
    apply_everywhere(&sb, &file, &["host1", "host2"]);
    assert!(reaches(&sb, "ns-dev-app", "10.112.1.2"), "dev (host1) -> shared (host2) through the TGW");
    assert!(reaches(&sb, "ns-shared-log", "10.111.1.2"), "shared (host2) -> prod (host1)");
    assert!(!reaches(&sb, "ns-dev-app", "10.111.1.2"), "spokes learn only shared: dev -/-> prod");
    assert!(reaches(&sb, "ns-a-a1", "10.201.1.2"), "a1 (host1) -> b1 (host2): both tables route the peering");
    assert!(reaches(&sb, "ns-b-b1", "10.200.1.2"), "b1 -> a1");
    assert!(!reaches(&sb, "ns-a-a2", "10.201.1.2"), "a2's table has no route to b");
    assert!(!reaches(&sb, "ns-b-b1", "10.200.2.2"), "nor does b1 get to a2: a2 cannot answer");
    // A NAT gateway on host1 serves priv on host2, as a cross-AZ one does.
    let seen = sb.curl("ns-az-priv", "http://198.51.100.80/").expect("priv reaches the internet through ngw on host1");
    assert_eq!(seen.trim(), "fake internet at 198.51.100.80:80; you are 192.0.2.11");
    assert!(sb.curl("ns-az-db", "http://198.51.100.80/").is_none(), "db has only the local route");
    assert!(!sb.sh("ip netns exec internet curl -s -m 2 http://10.210.2.2/").ok(), "the internet cannot open a connection to priv");
    assert_eq!(sb.leaked(), 0, "a private address reached the internet");
    let expect = sb.file(
        "az.json",
        r#"{"expect": [{"from": "az/priv", "to": "198.51.100.80", "protocol": "tcp", "port": 80, "reachable": true},
                       {"from": "az/db", "to": "198.51.100.80", "protocol": "tcp", "port": 80, "reachable": false}]}"#,
    );
    let checked = sb.on("host2", &["check", "-f", &expect]);
    assert!(checked.ok(), "{checked:?}");
    for h in ["host1", "host2"] {
        let d = sb.on(h, &["doctor"]);
        assert!(d.ok(), "{h}: doctor\n{d:?}");
    }
    for h in ["host1", "host2"] {
        assert_eq!(sb.on(h, &["plan", "-f", &file, "--detailed-exitcode"]).code, 0, "{h}");
        sb.v_on(h, &["teardown-all", "--auto-approve"]);
    }
    for (h, snap) in ["host1", "host2"].iter().zip(&before) {
        assert_eq!(&sb.host_snapshot(h), snap, "{h} not left as found");
    }
}
