//! Issue: VPC services (DNS resolver, expose and elastic IPs, network ACLs,
//! flow logs). Each test runs in its own sandbox, whose fake internet has a
//! DNS server on 198.51.100.53 that the sandbox's own /etc/resolv.conf
//! names (scripts/sandbox.sh): no query ever leaves the sandbox.

#[macro_use]
mod common;

const INTERNET: &str = "http://198.51.100.80/";

/// VPC vpc1 (10.10.0.0/16): web (10.10.1.0/24, public) and db (10.10.2.0/24).
fn web_and_db(sb: &common::Sandbox) {
    sb.v(&["create-vpc", "vpc1", "10.10.0.0/16"]);
    sb.v(&["add-subnet", "vpc1", "web", "10.10.1.0/24", "--public"]);
    sb.v(&["add-subnet", "vpc1", "db", "10.10.2.0/24"]);
}

/// getent through the subnet's resolv.conf (ip netns exec); None if the
/// name does not resolve.
fn resolve(sb: &common::Sandbox, ns: &str, name: &str) -> Option<String> {
    let out = sb.sh(&format!("ip netns exec {ns} getent hosts {name}"));
    out.ok().then(|| out.stdout.split_whitespace().next().unwrap_or_default().to_string())
}

#[test]
fn each_vpc_resolves_its_own_and_its_peers_names_and_forwards_the_rest() {
    let sb = sandbox!();
    sb.docker_like_host();
    let before = sb.snapshot();
    web_and_db(&sb);
    sb.v(&["create-vpc", "vpc2", "10.20.0.0/16"]);
    sb.v(&["add-subnet", "vpc2", "api", "10.20.1.0/24"]);
    sb.v(&["create-vpc", "vpc3", "10.30.0.0/16"]);
    sb.v(&["add-subnet", "vpc3", "lab", "10.30.1.0/24"]);

    // Inside: by full name and by the search domain, through both ways in.
    assert_eq!(resolve(&sb, "ns-vpc1-web", "db.vpc1.internal").as_deref(), Some("10.10.2.2"));
    assert_eq!(resolve(&sb, "ns-vpc1-db", "web").as_deref(), Some("10.10.1.2"));
    let via_exec = sb.v(&["exec", "vpc1", "web", "--", "getent", "hosts", "db.vpc1.internal"]);
    assert!(via_exec.starts_with("10.10.2.2"), "{via_exec}");
    // An app vpcctl runs resolves the same way.
    let app = format!("getent hosts db.vpc1.internal; exec {} serve --port 9000", env!("CARGO_BIN_EXE_vpcctl"));
    sb.v(&["deploy-app", "vpc1", "web", "--port", "9000", "--", "sh", "-c", &app]);
    let log = sb.ok("cat /var/lib/vpcctl/apps/vpc1/web-9000.log");
    assert!(log.starts_with("10.10.2.2"), "the app's getent: {log}");
    // Not across isolation, either way.
    assert_eq!(resolve(&sb, "ns-vpc1-web", "api.vpc2.internal"), None);
    assert_eq!(resolve(&sb, "ns-vpc2-api", "web.vpc1.internal"), None);
    // Nor by asking the other VPC's resolver directly: its gateway is not ours.
    assert!(sb.sh("ip netns exec ns-vpc1-web getent ahosts api.vpc2.internal").code != 0);
    let direct = sb.sh("ip netns exec ns-vpc1-web timeout 2 bash -c 'exec 3<>/dev/tcp/10.20.1.1/53' 2>&1");
    assert!(!direct.ok(), "vpc1 reaches vpc2's resolver: {direct:?}");

    // Across a peering, both ways, at once; and not transitively.
    sb.v(&["peer", "vpc1", "vpc2"]);
    assert_eq!(resolve(&sb, "ns-vpc1-db", "api.vpc2.internal").as_deref(), Some("10.20.1.2"));
    assert_eq!(resolve(&sb, "ns-vpc2-api", "web.vpc1.internal").as_deref(), Some("10.10.1.2"));
    assert_eq!(resolve(&sb, "ns-vpc3-lab", "api.vpc2.internal"), None);
    sb.v(&["unpeer", "vpc1", "vpc2"]);
    assert_eq!(resolve(&sb, "ns-vpc1-db", "api.vpc2.internal"), None);

    // A subnet added or deleted is visible at once.
    // (Under a umask that would keep the resolver, which runs as its own user, from reading.)
    sb.ok("umask 077; $VPCCTL add-subnet vpc1 cache 10.10.3.0/24");
    assert_eq!(resolve(&sb, "ns-vpc1-web", "cache.vpc1.internal").as_deref(), Some("10.10.3.2"));
    assert_eq!(resolve(&sb, "ns-vpc1-cache", "db.vpc1.internal").as_deref(), Some("10.10.2.2"));
    sb.v(&["delete-subnet", "vpc1", "cache"]);
    assert_eq!(resolve(&sb, "ns-vpc1-web", "cache.vpc1.internal"), None);

    // Upstream names from a private subnet with no way out: the resolver
    // asked the fake internet's server from the host's own address.
    assert_eq!(sb.curl("ns-vpc1-db", INTERNET), None, "db has no internet");
    assert_eq!(resolve(&sb, "ns-vpc1-db", "example.test").as_deref(), Some("198.51.100.80"));
    let upstream = sb.ok("cat /run/vpcctl-sandbox/upstream-dns.log");
    assert!(upstream.contains("query[A] example.test from 203.0.113.2"), "{upstream}");
    assert!(!upstream.contains(".internal"), ".internal never goes upstream: {upstream}");

    // The resolver runs unprivileged, one per VPC; the host stays closed
    // to everything else from the bridges.
    // (As its own system user: scripts/deps.sh makes vpcctl-dns.)
    let users = sb.ok("ps -C dnsmasq -o user:20=,args= | grep -- --hostsdir | awk '{print $1}' | sort | uniq -c");
    assert_eq!(users.trim(), "3 vpcctl-dns", "{users}");
    sb.ok("$VPCCTL serve --bind 10.10.1.1 --port 9999 >/dev/null 2>&1 & echo $! > /run/vpcctl-sandbox/host-server.pid; sleep 0.3");
    assert!(sb.curl_host("http://10.10.1.1:9999/").is_some(), "the host's own server runs");
    assert!(sb.curl("ns-vpc1-web", "http://10.10.1.1:9999/").is_none(), "only DNS reaches the host");

    // A resolver that dies comes back with repair.
    sb.ok("kill $(ps -C dnsmasq -o pid=,args= | grep 'hostsdir=/var/lib/vpcctl/dns/vpc3' | awk '{print $1}'); sleep 0.2");
    assert_eq!(resolve(&sb, "ns-vpc3-lab", "lab.vpc3.internal"), None);
    let repaired = sb.v(&["repair"]);
    assert!(repaired.contains("resolver"), "{repaired}");
    assert_eq!(resolve(&sb, "ns-vpc3-lab", "lab.vpc3.internal").as_deref(), Some("10.30.1.2"));

    // --no-dns: no resolver, no resolv.conf.
    sb.v(&["create-vpc", "quiet", "10.40.0.0/16", "--no-dns"]);
    sb.v(&["add-subnet", "quiet", "s", "10.40.1.0/24"]);
    assert!(!sb.sh("test -e /etc/netns/ns-quiet-s/resolv.conf").ok());

    sb.ok("kill $(cat /run/vpcctl-sandbox/host-server.pid)");
    sb.v(&["teardown-all", "--auto-approve"]);
    assert_eq!(sb.snapshot(), before, "no resolver left, host as found");
}

#[test]
fn expose_forwards_a_host_port_and_keeps_the_client_address() {
    let sb = sandbox!();
    sb.docker_like_host();
    let before = sb.snapshot();
    web_and_db(&sb);
    sb.v(&["deploy-app", "vpc1", "web", "--port", "8080"]);
    sb.v(&["deploy-app", "vpc1", "db", "--port", "5432"]);
    // Nothing from outside before exposing.
    assert!(sb.curl("internet", "http://203.0.113.2:80/").is_none());

    let out = sb.v(&["expose", "--vpc", "vpc1", "--subnet", "web", "--port", "8080", "--host-port", "80"]);
    assert!(out.contains("uplink0"), "the default route's interface: {out}");
    let body = sb.curl("internet", "http://203.0.113.2:80/").expect("exposed port from the fake internet");
    assert!(body.contains("subnet web") && body.contains("you are 203.0.113.1"), "no SNAT: the app sees the client: {body}");
    let body = sb.curl_host("http://203.0.113.2:80/").expect("and from the host itself");
    assert!(body.contains("subnet web"), "{body}");
    // Only that port: the app's own port is not open from outside.
    assert!(sb.curl("internet", "http://203.0.113.2:8080/").is_none());
    let inspect = sb.v(&["inspect", "vpc1"]);
    assert!(inspect.contains("uplink0:80") && inspect.contains("web:8080"), "{inspect}");
    let listed = sb.v(&["inspect", "vpc1", "--json"]);
    assert!(listed.contains("\"host_port\": 80"), "{listed}");

    // Refusals: a private subnet, a host port already exposed.
    sb.refused(&["expose", "vpc1", "db", "--port", "5432", "--host-port", "5432"], "--allow-private");
    sb.refused(&["expose", "vpc1", "web", "--port", "9090", "--host-port", "80"], "host port 80 is already exposed");
    let rules = sb.rules();
    sb.v(&["expose", "vpc1", "web", "--port", "8080", "--host-port", "80"]);
    assert_eq!(sb.rules(), rules, "the same forward twice changes nothing");
    sb.v(&["expose", "vpc1", "db", "--port", "5432", "--host-port", "5432", "--allow-private"]);
    let body = sb.curl("internet", "http://203.0.113.2:5432/").expect("private, when asked for");
    assert!(body.contains("subnet db") && body.contains("you are 203.0.113.1"), "{body}");

    sb.v(&["unexpose", "--vpc", "vpc1", "--host-port", "80"]);
    assert!(sb.curl("internet", "http://203.0.113.2:80/").is_none());
    sb.refused(&["unexpose", "vpc1", "--host-port", "80"], "does not expose host port 80");
    assert_eq!(sb.leaked(), 0);
    sb.v(&["teardown-all", "--auto-approve"]);
    assert_eq!(sb.snapshot(), before);
}

#[test]
fn an_elastic_ip_is_the_subnets_own_address_both_ways() {
    let sb = sandbox!();
    sb.docker_like_host();
    let before = sb.snapshot();
    sb.v(&["create-vpc", "vpc1", "10.10.0.0/16"]);
    sb.v(&["add-subnet", "vpc1", "web", "10.10.1.0/24", "--public"]);
    sb.v(&["add-subnet", "vpc1", "web2", "10.10.3.0/24", "--public"]);
    sb.v(&["add-subnet", "vpc1", "db", "10.10.2.0/24"]);
    sb.v(&["enable-nat", "vpc1"]);
    sb.v(&["deploy-app", "vpc1", "web", "--port", "8080"]);

    sb.refused(&["associate-eip", "vpc1", "web", "--ip", "203.0.113.2"], "already an address of this host");
    sb.refused(&["associate-eip", "vpc1", "web", "--ip", "192.0.2.10"], "outside the subnet of uplink uplink0");
    sb.refused(&["associate-eip", "vpc1", "db", "--ip", "203.0.113.10"], "private");
    sb.v(&["associate-eip", "--vpc", "vpc1", "--subnet", "web", "--ip", "203.0.113.10"]);
    sb.refused(&["associate-eip", "vpc1", "web2", "--ip", "203.0.113.10"], "already the elastic IP of vpc1/web");
    assert!(sb.ok("ip -4 -o addr show dev uplink0").contains("203.0.113.10/32"));

    // In: every port of the EIP reaches the subnet, with the client's address.
    let body = sb.curl("internet", "http://203.0.113.10:8080/").expect("inbound to the EIP");
    assert!(body.contains("subnet web") && body.contains("you are 203.0.113.1"), "{body}");
    assert!(sb.ping("internet", "203.0.113.10"));
    // Out: the subnet leaves from its EIP; the others from the host's address.
    let out = sb.curl("ns-vpc1-web", INTERNET).expect("web reaches the internet");
    assert!(out.contains("you are 203.0.113.10"), "{out}");
    let other = sb.curl("ns-vpc1-web2", INTERNET).expect("web2 reaches the internet");
    assert!(other.contains("you are 203.0.113.2"), "{other}");
    assert_eq!(sb.curl("ns-vpc1-db", INTERNET), None, "private stays private");
    assert_eq!(sb.leaked(), 0);

    sb.v(&["disassociate-eip", "--vpc", "vpc1", "--ip", "203.0.113.10"]);
    assert!(!sb.ok("ip -4 -o addr show dev uplink0").contains("203.0.113.10"));
    assert!(sb.curl("internet", "http://203.0.113.10:8080/").is_none());
    let out = sb.curl("ns-vpc1-web", INTERNET).expect("back to the NAT gateway");
    assert!(out.contains("you are 203.0.113.2"), "{out}");
    // Deleting the VPC takes its EIP's address with it.
    sb.v(&["associate-eip", "vpc1", "web", "--ip", "203.0.113.11"]);
    sb.v(&["delete", "vpc1"]);
    assert!(!sb.ok("ip -4 -o addr show dev uplink0").contains("203.0.113.11"));
    sb.v(&["teardown-all", "--auto-approve"]);
    assert_eq!(sb.snapshot(), before, "no address left on the uplink");
}

const NACL: &str = r#"{"inbound":  [{"rule": 100, "protocol": "tcp", "ports": "5432", "cidr": "10.10.1.0/24", "action": "allow"},
              {"rule": 200, "protocol": "icmp", "cidr": "10.10.1.0/24", "action": "allow"}],
 "outbound": [{"rule": 100, "protocol": "icmp", "cidr": "10.10.1.0/24", "action": "allow"}]}"#;

const NACL_WITH_REPLIES: &str = r#"{"inbound":  [{"rule": 100, "protocol": "tcp", "ports": "5432", "cidr": "10.10.1.0/24", "action": "allow"},
              {"rule": 150, "protocol": "icmp", "action": "deny"},
              {"rule": 200, "protocol": "icmp", "cidr": "10.10.1.0/24", "action": "allow"}],
 "outbound": [{"rule": 100, "protocol": "tcp", "ports": "1024-65535", "cidr": "10.10.1.0/24", "action": "allow"}]}"#;

#[test]
fn a_nacl_is_numbered_stateless_and_out_of_the_subnets_reach() {
    let sb = sandbox!();
    sb.docker_like_host();
    let before = sb.snapshot();
    sb.v(&["create-vpc", "vpc1", "10.10.0.0/16"]);
    sb.v(&["add-subnet", "vpc1", "web", "10.10.1.0/24", "--public"]);
    sb.v(&["add-subnet", "vpc1", "app", "10.10.3.0/24"]);
    sb.v(&["add-subnet", "vpc1", "db", "10.10.2.0/24"]);
    sb.v(&["deploy-app", "vpc1", "db", "--port", "5432"]);
    sb.v(&["deploy-app", "vpc1", "db", "--port", "8080"]);
    let db = "http://10.10.2.2:5432/";
    assert!(sb.curl("ns-vpc1-web", db).is_some() && sb.curl("ns-vpc1-app", db).is_some());

    // Stateless: inbound 5432 is allowed, but no outbound rule lets the
    // replies out, so the connection fails; ICMP has both ways and works.
    let file = sb.file("nacl.json", NACL);
    sb.v(&["apply-nacl", "--vpc", "vpc1", "--subnet", "db", "--nacl", &file]);
    assert!(sb.curl("ns-vpc1-web", db).is_none(), "replies need their own outbound rule");
    assert!(sb.ping("ns-vpc1-web", "10.10.2.2"));
    assert!(!sb.ping("ns-vpc1-app", "10.10.2.2"), "not from app's CIDR: unmatched is denied");

    // Replaced (one restore): replies allowed; rule 150 denies ICMP before 200 allows it.
    let file = sb.file("nacl2.json", NACL_WITH_REPLIES);
    sb.v(&["apply-nacl", "vpc1", "db", "--nacl", &file]);
    assert!(sb.curl("ns-vpc1-web", db).is_some(), "allowed in, replies allowed out");
    assert!(sb.curl("ns-vpc1-app", db).is_none(), "other CIDRs denied");
    assert!(sb.curl("ns-vpc1-web", "http://10.10.2.2:8080/").is_none(), "other ports denied");
    assert!(!sb.ping("ns-vpc1-web", "10.10.2.2"), "the lower rule number wins");

    // Root inside the subnet cannot remove it: it is not there.
    sb.ok("ip netns exec ns-vpc1-db iptables -F; ip netns exec ns-vpc1-db iptables -P INPUT ACCEPT; ip netns exec ns-vpc1-db iptables -P OUTPUT ACCEPT");
    assert!(sb.curl("ns-vpc1-app", db).is_none());
    assert!(sb.curl("ns-vpc1-web", db).is_some());
    let inspect = sb.v(&["inspect", "vpc1"]);
    assert!(inspect.contains("nacl: 3 inbound, 1 outbound"), "{inspect}");

    // Bad files are refused before anything changes.
    let rules = sb.rules();
    let bad = sb.file(
        "bad.json",
        r#"{"inbound": [{"rule": 1, "protocol": "tcp", "action": "allow"}, {"rule": 1, "protocol": "udp", "action": "deny"}]}"#,
    );
    sb.refused(&["apply-nacl", "vpc1", "db", "--nacl", &bad], "inbound[1].rule: rule number 1 is already used");
    assert_eq!(sb.rules(), rules);

    sb.v(&["remove-nacl", "--vpc", "vpc1", "--subnet", "db"]);
    assert!(sb.curl("ns-vpc1-app", db).is_some() && sb.ping("ns-vpc1-web", "10.10.2.2"));
    sb.v(&["teardown-all", "--auto-approve"]);
    assert_eq!(sb.snapshot(), before);
}

/// The records `flow-logs show --json` prints.
fn records(sb: &common::Sandbox, vpc: &str) -> Vec<serde_json::Value> {
    let out = sb.v(&["flow-logs", "show", "--vpc", vpc, "--json"]);
    serde_json::from_str::<Vec<serde_json::Value>>(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[test]
fn flow_logs_record_accepted_and_rejected_flows_with_real_counts() {
    let sb = sandbox!();
    sb.docker_like_host();
    let before = sb.snapshot();
    web_and_db(&sb);
    sb.v(&["create-vpc", "vpc2", "10.20.0.0/16"]);
    sb.v(&["add-subnet", "vpc2", "api", "10.20.1.0/24"]);
    sb.v(&["enable-nat", "vpc1"]);
    let out = sb.v(&["flow-logs", "enable", "--vpc", "vpc1", "--window", "60"]);
    assert!(out.contains("60 s"), "{out}");
    assert_eq!(sb.ok("ps -C ulogd -o stat= | grep -vc '^Z' || true").trim(), "1", "one collector");

    // Accepted: 3 pings of 100 bytes of data (128 bytes per IP packet).
    sb.ok("ip netns exec ns-vpc1-web ping -c3 -i0.2 -s100 10.10.2.2");
    // Rejected: isolation (vpc2 -> vpc1), 2 packets of 84 bytes.
    assert!(!sb.sh("ip netns exec ns-vpc2-api ping -c2 -i0.2 -W1 10.10.1.2").ok());
    // Rejected: a private subnet leaving.
    assert!(sb.curl("ns-vpc1-db", INTERNET).is_none());
    let recs = records(&sb, "vpc1");
    let find = |action: &str, src: &str, dst: &str, iface: &str| {
        recs.iter()
            .find(|r| {
                r["action"] == action && r["srcaddr"] == src && r["dstaddr"] == dst && r["interface-id"] == iface && r["protocol"] == 1
            })
            .cloned()
            .unwrap_or_else(|| panic!("no {action} {src}->{dst} at {iface} in {recs:#?}"))
    };
    let echo = find("ACCEPT", "10.10.1.2", "10.10.2.2", "v-vpc1-web");
    assert_eq!((echo["packets"].as_u64(), echo["bytes"].as_u64()), (Some(3), Some(3 * 128)), "{echo}");
    let at_db = find("ACCEPT", "10.10.1.2", "10.10.2.2", "v-vpc1-db");
    assert_eq!(at_db["packets"], 3, "logged at both interfaces, as AWS does");
    let replies = find("ACCEPT", "10.10.2.2", "10.10.1.2", "v-vpc1-web");
    assert_eq!(replies["packets"], 3);
    let rejected = find("REJECT", "10.20.1.2", "10.10.1.2", "v-vpc1-web");
    assert_eq!((rejected["packets"].as_u64(), rejected["bytes"].as_u64()), (Some(2), Some(168)), "{rejected}");
    assert!(
        recs.iter()
            .any(|r| r["action"] == "REJECT" && r["srcaddr"] == "10.10.2.2" && r["dstaddr"] == "198.51.100.80" && r["dstport"] == 80),
        "a private subnet leaving is rejected: {recs:#?}"
    );
    assert!(!recs.iter().any(|r| r["srcaddr"] == "10.20.1.2" && r["interface-id"] == "v-vpc2-api"), "vpc2 has no flow logs");
    // The text format: AWS's default fields, '-' where there is no value.
    let text = sb.v(&["flow-logs", "show", "vpc1"]);
    let line = text.lines().find(|l| l.contains("v-vpc1-web 10.10.1.2 10.10.2.2 ")).expect("a text record");
    let f: Vec<&str> = line.split(' ').collect();
    assert_eq!(f.len(), 14, "{line}");
    assert_eq!((f[0], f[1], f[5], f[6], f[7], f[8], f[12], f[13]), ("2", "-", "-", "-", "1", "3", "ACCEPT", "OK"), "{line}");

    // NACL denials are REJECTs too.
    let nacl = sb.file("deny-icmp.json", r#"{"inbound": [{"rule": 10, "protocol": "tcp", "action": "allow"}], "outbound": [{"rule": 10, "protocol": "all", "action": "allow"}]}"#);
    sb.v(&["apply-nacl", "vpc1", "db", "--nacl", &nacl]);
    assert!(!sb.sh("ip netns exec ns-vpc1-web ping -c1 -W1 10.10.2.2").ok());
    let recs = records(&sb, "vpc1");
    assert!(
        recs.iter()
            .any(|r| r["action"] == "REJECT" && r["dstaddr"] == "10.10.2.2" && r["interface-id"] == "v-vpc1-db" && r["packets"] == 1),
        "{recs:#?}"
    );

    // Disabling the last VPC's flow logs stops the collector; records stay.
    sb.v(&["flow-logs", "disable", "vpc1"]);
    assert_eq!(sb.ok("ps -C ulogd -o stat= | grep -vc '^Z' || true").trim(), "0");
    assert!(!records(&sb, "vpc1").is_empty());
    assert!(!sb.rules().contains("NFLOG"), "no NFLOG rule left");
    sb.v(&["flow-logs", "enable", "vpc1"]);
    sb.v(&["teardown-all", "--auto-approve"]);
    assert_eq!(sb.snapshot(), before, "no collector, resolver or app left; firewall as found");
}

#[test]
fn services_are_part_of_topologies_and_survive_export_and_apply() {
    let sb = sandbox!();
    sb.docker_like_host();
    let before = sb.snapshot();
    let nacl = sb.file(
        "db-nacl.json",
        r#"{"inbound": [{"rule": 100, "protocol": "tcp", "ports": "5432", "cidr": "10.10.1.0/24", "action": "allow"}],
 "outbound": [{"rule": 100, "protocol": "tcp", "ports": "1024-65535", "cidr": "10.10.1.0/24", "action": "allow"}]}"#,
    );
    let topo = sb.file(
        "net.json",
        &format!(
            r#"{{"vpcs": {{
  "shop": {{"cidr": "10.10.0.0/16", "nat": true, "flow_logs": true,
            "expose": [{{"subnet": "web", "port": 8080, "host_port": 80}}],
            "eip": [{{"subnet": "web", "ip": "203.0.113.20"}}],
            "subnets": {{"web": {{"cidr": "10.10.1.0/24", "public": true, "apps": [{{"port": 8080}}]}},
                        "db": {{"cidr": "10.10.2.0/24", "nacl": "{nacl}", "apps": [{{"port": 5432}}]}}}}}},
  "lab": {{"cidr": "10.20.0.0/16", "dns": false, "subnets": {{"s": {{"cidr": "10.20.1.0/24"}}}}}}}}}}"#
        ),
    );
    let plan = sb.v(&["plan", "-f", &topo]);
    for line in ["+ expose shop:80", "+ eip 203.0.113.20", "+ nacl shop/db", "+ flow-logs shop"] {
        assert!(plan.contains(line), "{line} in\n{plan}");
    }
    sb.v(&["apply", "-f", &topo]);
    let check = |sb: &common::Sandbox| {
        assert!(sb.curl("internet", "http://203.0.113.2:80/").is_some_and(|b| b.contains("you are 203.0.113.1")), "expose");
        assert!(sb.curl("internet", "http://203.0.113.20:8080/").is_some(), "eip");
        assert!(sb.curl("ns-shop-web", "http://db.shop.internal:5432/").is_some(), "dns and the NACL's allow");
        assert!(!sb.ping("ns-shop-web", "10.10.2.2"), "the NACL's implicit deny");
        assert!(!sb.sh("test -e /etc/netns/ns-lab-s/resolv.conf").ok(), "lab has no DNS");
    };
    check(&sb);
    assert!(sb.v(&["apply", "-f", &topo]).contains("no changes"), "applied twice: nothing to do");
    // Drift in every service, found by doctor and put back by repair.
    sb.ok("iptables -F VPCCTL-NI-v-shop-db; iptables -t nat -F VPCCTL-PREROUTING; ip addr del 203.0.113.20/32 dev uplink0; rm /etc/netns/ns-shop-web/resolv.conf");
    assert_eq!(sb.vpcctl(&["doctor"]).code, 1);
    let fixed = sb.v(&["repair"]);
    assert!(fixed.contains("repaired 4 difference(s)"), "{fixed}");
    check(&sb);
    let exported = sb.v(&["export"]);
    let copy = sb.file("copy.json", &exported);
    sb.v(&["teardown-all", "--auto-approve"]);
    sb.v(&["apply", "-f", &copy]);
    check(&sb);
    assert_eq!(sb.v(&["export"]), exported);
    sb.v(&["teardown-all", "--auto-approve"]);
    assert_eq!(sb.snapshot(), before);
}
