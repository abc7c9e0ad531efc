//! Issue: isolation that holds against root inside a subnet, and inputs
//! that cannot turn against the host. Each attack is tried for real in its
//! own sandbox and must fail.

#[macro_use]
mod common;

use common::Sandbox;

/// vpc1 with subnets a and b; b's policy denies all ingress.
fn two_subnets(sb: &Sandbox) {
    sb.v(&["create-vpc", "vpc1", "10.10.0.0/16"]);
    sb.v(&["add-subnet", "vpc1", "a", "10.10.1.0/24"]);
    sb.v(&["add-subnet", "vpc1", "b", "10.10.2.0/24"]);
    let deny = sb.file("deny.json", r#"{"default_ingress": "deny", "ingress": []}"#);
    sb.v(&["apply-policy", "vpc1", "b", &deny]);
}

/// The link-local address the kernel would give `dev` in `ns` (EUI-64).
fn eui64(sb: &Sandbox, ns: &str) -> String {
    let mac = sb.ok(&format!("ip -n {ns} -o link show eth0 | grep -o 'link/ether [^ ]*' | cut -d' ' -f2"));
    let b: Vec<u8> = mac.trim().split(':').map(|x| u8::from_str_radix(x, 16).unwrap()).collect();
    format!("fe80::{:02x}{:02x}:{:02x}ff:fe{:02x}:{:02x}{:02x}", b[0] ^ 2, b[1], b[2], b[3], b[4], b[5])
}

#[test]
fn ipv6_cannot_bypass_a_deny_all_policy() {
    let sb = sandbox!();
    two_subnets(&sb);
    sb.ok("ip netns exec ns-vpc1-b $VPCCTL serve --bind :: --port 8080 >/dev/null 2>&1 & sleep 0.3");
    assert!(sb.curl("ns-vpc1-a", "http://10.10.2.2:8080/").is_none(), "IPv4 is denied by the policy");
    // No IPv6 address anywhere on vpcctl's interfaces, not even link-local.
    for (ns, dev) in [("ns-vpc1-a", "eth0"), ("ns-vpc1-b", "eth0")] {
        assert_eq!(sb.ok(&format!("ip -n {ns} -6 -o addr show dev {dev}")).trim(), "", "{ns} {dev} has IPv6");
    }
    for dev in ["br-vpc1", "v-vpc1-a", "v-vpc1-b"] {
        assert_eq!(sb.ok(&format!("ip -6 -o addr show dev {dev}")).trim(), "", "{dev} has IPv6");
    }
    // Root in subnet a gives itself IPv6 and tries b's would-be address.
    let target = eui64(&sb, "ns-vpc1-b");
    sb.ok("ip -n ns-vpc1-a link set eth0 addrgenmode eui64; ip -n ns-vpc1-a addr add fe80::bad/64 dev eth0 nodad");
    assert!(!sb.sh(&format!("ip netns exec ns-vpc1-a ping -6 -c1 -W1 {target}%eth0")).ok(), "ping6 to {target} answered");
    let tcp = sb.sh(&format!("ip netns exec ns-vpc1-a curl -g -s -m 2 'http://[{target}%eth0]:8080/'"));
    assert!(!tcp.ok(), "the app answered over IPv6: {tcp:?}");
}

#[test]
fn address_spaces_that_cut_the_host_off_are_refused() {
    let sb = sandbox!();
    sb.docker_like_host();
    let snap = sb.snapshot();
    for (cidr, why) in [
        ("0.0.0.0/8", "0.0.0.0/8"),
        ("127.10.0.0/16", "loopback"),
        ("169.254.0.0/16", "metadata"),
        ("224.1.0.0/16", "multicast"),
        ("240.0.0.0/8", "reserved"),
    ] {
        let out = sb.refused(&["create-vpc", "v", cidr], why);
        assert_eq!(out.code, 2, "{out:?}");
        assert!(out.stderr.contains("10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16"), "{out:?}");
    }
    // A range over an address the host holds (here a /32 on lo, which no
    // main-table route shows) would take it from the host.
    sb.ok("ip addr add 192.0.2.7/32 dev lo");
    let snap_with_addrs = sb.snapshot();
    sb.refused(&["create-vpc", "v", "192.0.2.0/24"], "covers 192.0.2.7, an address of this host (on lo)");
    let file = sb.file("t.json", r#"{"vpcs": {"v": {"cidr": "192.0.2.0/24"}}}"#);
    sb.refused(&["apply", "-f", &file], "covers 192.0.2.7");
    // An address the host gains inside a VPC later keeps its range from subnets.
    sb.v(&["create-vpc", "vpc1", "10.10.0.0/16"]);
    sb.ok("ip addr add 10.10.9.9/32 dev lo");
    sb.refused(&["add-subnet", "vpc1", "s", "10.10.9.0/24"], "covers 10.10.9.9, an address of this host (on lo)");
    sb.v(&["add-subnet", "vpc1", "s", "10.10.8.0/24"]);
    sb.v(&["teardown-all", "--auto-approve"]);
    sb.ok("ip addr del 10.10.9.9/32 dev lo");
    assert_eq!(sb.snapshot(), snap_with_addrs);
    sb.ok("ip addr del 192.0.2.7/32 dev lo");
    assert_eq!(sb.snapshot(), snap);
}

#[test]
fn tampered_state_is_refused_and_runs_nothing() {
    let sb = sandbox!();
    sb.v(&["create-vpc", "vpc1", "10.10.0.0/16"]);
    sb.v(&["add-subnet", "vpc1", "web", "10.10.1.0/24"]);
    sb.v(&["deploy-app", "vpc1", "web", "--port", "8080"]);
    let good = sb.state_json();
    let cases: [(&str, &str, &str); 4] = [
        // A newline in a kernel name would be a second line of an ip batch.
        (r#""bridge": "br-vpc1""#, r#""bridge": "br-vpc1\nnetns add pwned""#, "vpcs[0].bridge"),
        (r#""namespace": "ns-vpc1-web""#, r#""namespace": "ns-vpc1-web\nnetns add pwned""#, "vpcs[0].subnets[0].namespace"),
        (r#""chain": "VPCCTL-FWD-vpc1""#, r#""chain": "INPUT""#, "vpcs[0].chain"),
        // pid 1 would be kill(-1): every process.
        (r#""pid": "#, r#""pid": 1, "was": "#, "apps[0].pid"),
    ];
    for (from, to, field) in cases {
        let bad = good.replacen(from, to, 1);
        assert_ne!(bad, good, "{from}");
        sb.ok(&format!("cat > /var/lib/vpcctl/state.json <<'EOF'\n{bad}EOF"));
        for args in [&["delete", "vpc1"][..], &["repair"], &["stop-app", "vpc1", "web"], &["list"]] {
            let out = sb.vpcctl(args);
            assert!(
                !out.ok() && out.stderr.contains("/var/lib/vpcctl/state.json") && out.stderr.contains(field),
                "{args:?} {field}\n{out:?}"
            );
            assert!(out.stderr.contains("nothing was run"), "{out:?}");
        }
        assert!(!sb.ok("ip netns list").contains("pwned"));
        assert!(sb.sh("ip link show br-vpc1").ok(), "nothing was torn down");
    }
    sb.ok(&format!("cat > /var/lib/vpcctl/state.json <<'EOF'\n{good}EOF"));
    // A state dir others can write is refused, and so is a state file that is a link.
    sb.ok("chmod 0777 /var/lib/vpcctl");
    sb.refused(&["delete", "vpc1"], "writable by its group or by everyone");
    sb.ok("chmod 0755 /var/lib/vpcctl; mv /var/lib/vpcctl/state.json /run/vpcctl-sandbox/real.json; ln -s /run/vpcctl-sandbox/real.json /var/lib/vpcctl/state.json");
    let out = sb.vpcctl(&["delete", "vpc1"]);
    assert!(!out.ok() && out.stderr.contains("state.json"), "{out:?}");
    sb.ok("rm /var/lib/vpcctl/state.json; mv /run/vpcctl-sandbox/real.json /var/lib/vpcctl/state.json");
    // The app's log is the owner's alone.
    assert_eq!(sb.ok("stat -c %a /var/lib/vpcctl/apps/vpc1/web-8080.log").trim(), "600");
    sb.v(&["delete", "vpc1"]);
}

/// Resident memory of a process, KiB.
fn rss_kib(sb: &Sandbox, pid: u64) -> u64 {
    let status = sb.ok(&format!("cat /proc/{pid}/status"));
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn the_built_in_server_survives_hostile_clients() {
    let sb = sandbox!();
    sb.v(&["create-vpc", "vpc1", "10.10.0.0/16"]);
    sb.v(&["add-subnet", "vpc1", "web", "10.10.1.0/24"]);
    sb.v(&["deploy-app", "vpc1", "web", "--port", "8080"]);
    let v: serde_json::Value = serde_json::from_str(&sb.v(&["inspect", "vpc1", "--json"])).unwrap();
    let pid = v["subnets"][0]["apps"][0]["pid"].as_u64().unwrap();
    let before = rss_kib(&sb, pid);
    // One client streams 20 MB without a newline; 300 more connect and say nothing.
    sb.ok("(exec 3<>/dev/tcp/10.10.1.2/8080; head -c 20000000 /dev/zero >&3; sleep 8) >/dev/null 2>&1 &
         (ulimit -n 4096; for i in $(seq 300); do exec {fd}<>/dev/tcp/10.10.1.2/8080 || break; done; sleep 8) >/dev/null 2>&1 &
         sleep 1.5");
    let open = sb.ok("ip netns exec ns-vpc1-web ss -tn state established '( sport = :8080 )' | tail -n +2 | wc -l");
    assert!(open.trim().parse::<u32>().unwrap() >= 250, "the idle clients are connected: {open}");
    let start = std::time::Instant::now();
    let body = sb.ok("curl -s -m 2 http://10.10.1.2:8080/");
    assert!(body.contains("vpcctl app in vpc vpc1 subnet web"), "{body}");
    assert!(start.elapsed() < std::time::Duration::from_secs(2), "answered in {:?}", start.elapsed());
    let after = rss_kib(&sb, pid);
    assert!(after < before + 8 * 1024, "memory grew from {before} KiB to {after} KiB");
    // A head past 8 KiB is refused outright.
    let big =
        sb.ok("curl -s -m 2 -o /dev/null -w '%{http_code}' -H \"X-Big: $(head -c 9000 /dev/zero | tr '\\0' a)\" http://10.10.1.2:8080/");
    assert_eq!(big.trim(), "431");
    assert!(sb.curl("ns-vpc1-web", "http://10.10.1.2:8080/").is_some(), "still serving");
}

#[test]
fn the_host_is_not_a_service_of_the_vpc() {
    let sb = sandbox!();
    sb.docker_like_host();
    sb.v(&["create-vpc", "vpc1", "10.10.0.0/16"]);
    sb.v(&["add-subnet", "vpc1", "web", "10.10.1.0/24", "--public"]);
    sb.v(&["create-vpc", "vpc2", "10.20.0.0/16"]);
    sb.v(&["add-subnet", "vpc2", "api", "10.20.1.0/24"]);
    sb.v(&["enable-nat", "vpc1", "--interface", "uplink0"]);
    // A service of the host's own, on every address; the host's INPUT policy is ACCEPT.
    sb.ok("$VPCCTL serve --port 9999 >/dev/null 2>&1 & sleep 0.3; curl -s -m 2 http://127.0.0.1:9999/ >/dev/null");
    for addr in ["10.10.1.1", "10.20.1.1", "203.0.113.2"] {
        assert!(sb.curl("ns-vpc1-web", &format!("http://{addr}:9999/")).is_none(), "web reached the host's service at {addr}");
        assert!(sb.curl("ns-vpc2-api", &format!("http://{addr}:9999/")).is_none(), "api reached the host's service at {addr}");
    }
    // What vpcctl offers: a ping to the VPC's own gateway, not another VPC's.
    assert!(sb.ping("ns-vpc1-web", "10.10.1.1"));
    assert!(!sb.ping("ns-vpc1-web", "10.20.1.1"));
    // The host still reaches its subnets, and their answers come back.
    assert!(sb.ok("ping -c1 -W1 10.10.1.2 >/dev/null && echo yes").contains("yes"));
    sb.serve_by_hand("ns-vpc2-api", 8080);
    assert!(sb.ok("curl -s -m 2 http://10.20.1.2:8080/").contains("you are 10.20.1.1"));
    // NAT'd traffic never reaches link-local addresses (cloud metadata).
    sb.ok("ip -n internet addr add 169.254.169.254/32 dev lo; ip netns exec internet $VPCCTL serve --bind 169.254.169.254 --port 80 >/dev/null 2>&1 & sleep 0.3");
    sb.ok("ip route add 169.254.169.254/32 via 203.0.113.1");
    assert!(sb.curl("ns-vpc1-web", "http://198.51.100.80/").is_some(), "NAT works");
    assert!(sb.curl("ns-vpc1-web", "http://169.254.169.254/").is_none(), "metadata reached through NAT");
    assert!(sb.ok("curl -s -m 2 http://169.254.169.254/").contains("at 169.254.169.254"), "the host itself still reaches it");
    let out = sb.vpcctl(&["test-connectivity", "vpc1", "web", "10.20.1.1", "--port", "9999", "--explain"]);
    assert!(out.code == 1 && out.stdout.contains("HOST_NOT_A_SERVICE"), "the analyzer agrees: {out:?}");
}

#[test]
fn a_huge_policy_with_long_descriptions_applies_and_doctor_agrees() {
    let sb = sandbox!();
    // The longest names, so that "vpcctl:vpc=V subnet=S ingress[N] DESCRIPTION"
    // is well past iptables' 255-byte limit for a comment.
    let (v, s) = ("a-very-long-vpc-name-for-testing", "a-very-long-subnet-name-for-test");
    sb.v(&["create-vpc", v, "10.10.0.0/16"]);
    sb.v(&["add-subnet", v, s, "10.10.1.0/24"]);
    let info: serde_json::Value = serde_json::from_str(&sb.v(&["inspect", v, "--json"])).unwrap();
    let ns = info["subnets"][0]["namespace"].as_str().unwrap().to_string();
    // 3000 rules, each described at the longest a description may be
    // (written in the sandbox: too large for an argument).
    let file = "/run/vpcctl-sandbox/huge.json";
    sb.ok(&format!(
        r#"d=$(head -c 200 /dev/zero | tr '\0' d)
           {{ printf '{{"default_ingress": "deny", "ingress": ['
             for i in $(seq 0 2999); do [ $i -gt 0 ] && printf ','
               printf '{{"port": %d, "protocol": "tcp", "action": "allow", "description": "%s %d"}}' $((1000 + i)) "$d" $i; done
             printf ']}}'; }} > {file}"#
    ));
    let out = sb.vpcctl(&["apply-policy", v, s, file]);
    // Applied (or refused with a message), never killed by a signal.
    assert!(out.code == 0 || (out.code > 0 && out.code < 128 && out.stderr.starts_with("error:")), "{out:?}");
    assert!(out.ok(), "3000 rules fit: {out:?}");
    let loaded = sb.ok(&format!("ip netns exec {ns} iptables-save -t filter | grep -c '^-A VPCCTL-INGRESS'"));
    assert_eq!(loaded.trim(), "3003", "loopback, stateful, 3000 rules, default");
    let doctor = sb.vpcctl(&["doctor", "-q"]);
    assert_eq!(doctor.code, 0, "doctor agrees with the kernel: {doctor:?}");
}

/// A field of /proc/PID/status, e.g. "Uid".
fn status(sb: &Sandbox, pid: u64, field: &str) -> String {
    let text = sb.ok(&format!("cat /proc/{pid}/status"));
    text.lines().find(|l| l.starts_with(&format!("{field}:"))).map(|l| l[field.len() + 1..].trim().to_string()).unwrap_or_default()
}

fn app_pid(sb: &Sandbox, port: u64) -> u64 {
    let v: serde_json::Value = serde_json::from_str(&sb.v(&["inspect", "vpc1", "--json"])).unwrap();
    let apps = v["subnets"][0]["apps"].as_array().unwrap();
    apps.iter().find(|a| a["port"] == port).unwrap()["pid"].as_u64().unwrap()
}

#[test]
fn apps_run_unprivileged_and_listening_means_the_app_itself() {
    let sb = sandbox!();
    sb.v(&["create-vpc", "vpc1", "10.10.0.0/16"]);
    sb.v(&["add-subnet", "vpc1", "web", "10.10.1.0/24"]);
    // The default server, on a port below 1024.
    sb.v(&["deploy-app", "vpc1", "web", "--port", "80"]);
    let pid = sb.app_process(app_pid(&sb, 80));
    let uid: u32 = status(&sb, pid, "Uid").split_whitespace().next().unwrap().parse().unwrap();
    assert!((0x7000_0000..0x7001_0000).contains(&uid), "not a uid of its own: {uid}");
    assert_eq!(status(&sb, pid, "CapEff"), "0000000000000000");
    assert_eq!(status(&sb, pid, "CapPrm"), "0000000000000000");
    assert_eq!(status(&sb, pid, "NoNewPrivs"), "1");
    assert!(sb.ok("curl -s -m 2 http://10.10.1.2/").contains("subnet web"), "port 80 works unprivileged");
    // As its user, the app cannot touch its subnet's firewall.
    let out = sb.sh(&format!("ip netns exec ns-vpc1-web setpriv --reuid={uid} --regid={uid} --clear-groups iptables -w -F"));
    assert!(!out.ok(), "{out:?}");
    // A custom command runs as the user named, and --user root is the opt-out.
    sb.v(&["deploy-app", "vpc1", "web", "--port", "8081", "--user", "daemon", "--", common::BIN, "serve", "--port", "8081"]);
    assert!(status(&sb, sb.app_process(app_pid(&sb, 8081)), "Uid").starts_with(&sb.ok("id -u daemon").trim().to_string()));
    sb.v(&["deploy-app", "vpc1", "web", "--port", "8082", "--user", "root", "--", common::BIN, "serve", "--port", "8082"]);
    assert!(status(&sb, sb.app_process(app_pid(&sb, 8082)), "Uid").starts_with("0\t"));
    sb.refused(&["deploy-app", "vpc1", "web", "--port", "8083", "--user", "no-such-user"], "no user named \"no-such-user\"");
    // Someone else's server on 9000 does not make an app that never listens "listening".
    sb.ok("ip netns exec ns-vpc1-web $VPCCTL serve --port 9000 >/dev/null 2>&1 & sleep 0.3");
    let out = sb.vpcctl(&["deploy-app", "vpc1", "web", "--port", "9000", "--", "sleep", "30"]);
    assert!(!out.ok() && out.stderr.contains("did not listen on port 9000"), "{out:?}");
    assert!(!sb.v(&["inspect", "vpc1"]).contains("port 9000"), "not recorded");
}

const WEB: &str = "http://198.51.100.80/";

/// Root in `ns` borrows `addr` and fetches `url` from it.
fn curl_from(sb: &Sandbox, ns: &str, addr: &str, url: &str) -> bool {
    sb.ok(&format!("ip -n {ns} addr add {addr}/32 dev eth0"));
    sb.sh(&format!("ip netns exec {ns} curl -s -m 2 --interface {addr} {url}")).ok()
}

#[test]
fn a_borrowed_address_does_not_get_out_through_nat() {
    let sb = sandbox!();
    sb.docker_like_host();
    sb.v(&["create-vpc", "vpc1", "10.10.0.0/16"]);
    sb.v(&["add-subnet", "vpc1", "pub", "10.10.1.0/24", "--public"]);
    sb.v(&["add-subnet", "vpc1", "priv", "10.10.2.0/24"]);
    sb.v(&["enable-nat", "vpc1", "--interface", "uplink0"]);
    assert!(sb.curl("ns-vpc1-pub", WEB).is_some(), "the public subnet gets out");
    assert!(sb.curl("ns-vpc1-priv", WEB).is_none(), "the private one does not");
    // Root in the private subnet takes an address of the public range, and
    // the public subnet's own address: neither gets anywhere.
    assert!(!curl_from(&sb, "ns-vpc1-priv", "10.10.1.99", WEB), "spoofed source reached the internet");
    assert!(!curl_from(&sb, "ns-vpc1-priv", "10.10.1.2", WEB), "the public subnet's own address reached the internet");
    assert_eq!(sb.leaked(), 0);
    // Nor the other subnet, nor the gateway of the public one.
    assert!(!sb.sh("ip netns exec ns-vpc1-priv ping -c1 -W1 -I 10.10.1.99 10.10.1.1").ok());
    // The public subnet is unaffected.
    sb.ok("ip -n ns-vpc1-priv addr del 10.10.1.99/32 dev eth0; ip -n ns-vpc1-priv addr del 10.10.1.2/32 dev eth0");
    assert!(sb.curl("ns-vpc1-pub", WEB).is_some());
    assert!(sb.ping("ns-vpc1-pub", "10.10.2.2"));
}

#[test]
fn a_borrowed_address_does_not_pass_a_peering_allow_list() {
    let sb = sandbox!();
    sb.docker_like_host();
    sb.v(&["create-vpc", "a", "10.1.0.0/16"]);
    sb.v(&["add-subnet", "a", "s1", "10.1.1.0/24"]);
    sb.v(&["add-subnet", "a", "s2", "10.1.2.0/24"]);
    sb.v(&["create-vpc", "b", "10.2.0.0/16"]);
    sb.v(&["add-subnet", "b", "s1", "10.2.1.0/24"]);
    sb.v(&["peer", "a", "b", "--allow-cidrs", "10.1.1.0/24,10.2.1.0/24"]);
    sb.serve_by_hand("ns-b-s1", 8080);
    assert!(sb.curl("ns-a-s1", "http://10.2.1.2:8080/").is_some(), "allowed: a/s1 -> b/s1");
    assert!(sb.curl("ns-a-s2", "http://10.2.1.2:8080/").is_none(), "not allowed: a/s2 -> b/s1");
    assert!(!curl_from(&sb, "ns-a-s2", "10.1.1.77", "http://10.2.1.2:8080/"), "a borrowed address passed the allow-list");
    assert!(sb.curl("ns-a-s1", "http://10.2.1.2:8080/").is_some(), "a/s1 still allowed");
}

/// VPCs `x1` (subnets s1, s2) and `x2` (s1) in `dir`, on 10.<n>.0.0/16 and 10.<n+1>.0.0/16.
fn two_vpcs(sb: &Sandbox, dir: &str, x: &str, n: u8) {
    let (v1, v2) = (format!("{x}1"), format!("{x}2"));
    for (vpc, net, subnets) in [(&v1, n, &["s1", "s2"][..]), (&v2, n + 1, &["s1"][..])] {
        sb.v(&["--state-dir", dir, "create-vpc", vpc, &format!("10.{net}.0.0/16")]);
        for (i, s) in subnets.iter().enumerate() {
            sb.v(&["--state-dir", dir, "add-subnet", vpc, s, &format!("10.{net}.{}.0/24", i + 1)]);
        }
    }
}

/// Within each VPC of `x`, subnets route to each other; nothing crosses to
/// the other VPC of `x` or to `other`'s.
fn routes_and_isolates(sb: &Sandbox, x: &str, n: u8, other: &str, m: u8) {
    assert!(sb.ping(&format!("ns-{x}1-s1"), &format!("10.{n}.2.2")), "{x}1: s1 -> s2 routes");
    assert!(sb.ping(&format!("ns-{x}1-s2"), &format!("10.{n}.1.2")), "{x}1: s2 -> s1 routes");
    assert!(sb.isolated(&format!("ns-{x}1-s1"), &format!("10.{}.1.2", n + 1)), "{x}1 reaches {x}2");
    assert!(sb.isolated(&format!("ns-{x}1-s1"), &format!("10.{m}.1.2")), "{x}1 reaches {other}1");
    assert!(sb.isolated(&format!("ns-{x}2-s1"), &format!("10.{}.1.2", m + 1)), "{x}2 reaches {other}2");
}

#[test]
fn two_state_dirs_keep_each_others_vpcs_routing_and_isolated() {
    let sb = sandbox!();
    sb.docker_like_host();
    let before = sb.snapshot();
    let b = "/run/vpcctl-sandbox/state-b";
    two_vpcs(&sb, "/var/lib/vpcctl", "a", 10);
    routes_and_isolates(&sb, "a", 10, "b", 20);
    two_vpcs(&sb, b, "b", 20);
    routes_and_isolates(&sb, "a", 10, "b", 20);
    routes_and_isolates(&sb, "b", 20, "a", 10);
    // A VPC name in use by the other dir is refused, not taken over.
    sb.refused(&["--state-dir", b, "create-vpc", "a1", "10.50.0.0/16"], "br-a1");
    assert!(sb.v(&["doctor"]).contains("matches the record"), "the other dir's chains are not orphans");

    sb.v(&["--state-dir", b, "teardown-all", "--auto-approve"]);
    routes_and_isolates(&sb, "a", 10, "b", 20);
    assert!(sb.v(&["doctor"]).contains("matches the record"));
    assert_eq!(sb.ok("cat /proc/sys/net/ipv4/ip_forward").trim(), "1", "a still routes");

    two_vpcs(&sb, b, "b", 20);
    sb.v(&["teardown-all", "--auto-approve"]);
    routes_and_isolates(&sb, "b", 20, "a", 10);
    sb.v(&["--state-dir", b, "teardown-all", "--auto-approve"]);
    assert_eq!(sb.snapshot(), before, "ip_forward and every chain as found");
}

#[test]
fn a_changing_command_puts_back_a_missing_jump() {
    let sb = sandbox!();
    sb.docker_like_host();
    sb.v(&["create-vpc", "vpc1", "10.10.0.0/16"]);
    sb.v(&["add-subnet", "vpc1", "pub", "10.10.1.0/24", "--public"]);
    sb.v(&["enable-nat", "vpc1", "--interface", "uplink0"]);
    sb.ok("iptables -w -S FORWARD | grep -- '-j VPCCTL-FORWARD$' | sed 's/^-A/-D/' | xargs iptables -w
           iptables -w -t nat -D POSTROUTING -m comment --comment vpcctl -j VPCCTL-POSTROUTING");
    assert!(sb.curl("ns-vpc1-pub", WEB).is_none(), "without the jumps nothing gets out");
    sb.v(&["add-subnet", "vpc1", "other", "10.10.2.0/24"]);
    assert!(sb.curl("ns-vpc1-pub", WEB).is_some(), "the jumps are back");
    assert!(sb.ping("ns-vpc1-other", "10.10.1.2"));
    let rules = sb.rules();
    assert_eq!(rules.matches("-j VPCCTL-FORWARD").count(), 1, "exactly one jump: {rules}");
    assert_eq!(rules.matches("-j VPCCTL-POSTROUTING").count(), 1, "{rules}");
}
