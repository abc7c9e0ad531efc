//! Reading what the kernel has, for `doctor` and `repair`, with a fixed
//! number of processes whatever the number of objects:
//!
//! - the root namespace: one `ip -j addr` (links, masters, addresses), one
//!   `iptables-save`, one `ebtables-save`, and
//!   /proc/net/route for the unreachable routes;
//! - each subnet namespace: a worker thread joins it with setns(2) and
//!   reads its links and addresses with getifaddrs(3) and its routes from
//!   /proc/thread-self/net/route, so a namespace costs no process. A
//!   namespace with a policy also runs one `iptables-save -t filter`,
//!   spawned from that thread and so inside the namespace.

use std::collections::HashMap;
use std::fs::File;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::process::Command;

use anyhow::{Context, Result};

use crate::kernel::host;
use crate::kernel::host::{RunError, resolve};
use crate::model::State;
use crate::plan::iptables::parse_save;
pub use crate::plan::repair::{Link, Netns, Observed};

/// Everything `doctor` and `repair` compare with `state`.
pub fn observe(state: &State) -> Result<Observed> {
    let links = root_links()?;
    let ports = read_ports(state);
    let unreachable = host::unreachable_routes();
    let dump = host::iptables_save()?;
    let mut wanted: Vec<(String, Rules)> = state
        .vpcs
        .iter()
        .flat_map(|v| v.hosts().into_iter().map(|s| (s.namespace.clone(), if s.policy.is_some() { Rules::Filter } else { Rules::None })))
        .collect();
    // A NAT gateway's translation is its own nat table.
    wanted.extend(state.vpcs.iter().flat_map(|v| v.nat_gateways.iter().map(|g| (g.namespace.clone(), Rules::Nat))));
    let routed = state.vpcs.iter().any(|v| !v.route_tables.is_empty());
    let (ip_rules, route_specs) =
        if routed { (ip_lines(&["rule", "show"]), ip_lines(&["-4", "route", "show", "table", "all"])) } else { (vec![], vec![]) };
    let namespaces = read_namespaces(&wanted);
    let dead_apps = state
        .vpcs
        .iter()
        .flat_map(|v| v.subnets.iter().flat_map(|s| s.apps.iter().chain(s.instances.iter().flat_map(|i| &i.apps))))
        .filter(|a| !crate::helpers::apps::is_ours(a.pid, a.start_time) || crate::helpers::apps::group_stopped(a.pid))
        .map(|a| a.pid)
        .collect();
    let dead_resolvers = state
        .vpcs
        .iter()
        .filter(|v| v.dns.as_ref().is_some_and(|r| !crate::helpers::apps::helper_running(&r.process)))
        .map(|v| v.name.to_string())
        .collect();
    let collector_dead = state.host.flow_logs.as_ref().is_some_and(|c| !crate::helpers::apps::helper_running(&c.process));
    let wireguard_dead = state
        .fabric
        .as_ref()
        .and_then(|f| f.wireguard.as_ref())
        .is_some_and(|w| w.userspace && !crate::helpers::apps::helper_running(&w.process));
    let overlay = if crate::plan::overlay::tunnels(state).is_empty() { Default::default() } else { overlay_entries() };
    let files = crate::plan::dns::files(state).into_keys().map(|p| (p.clone(), std::fs::read_to_string(&p).ok())).collect();
    Ok(Observed {
        ip_rules: crate::plan::routes::our_rules(&ip_rules),
        route_specs: crate::plan::routes::our_routes(&route_specs),
        dead_resolvers,
        collector_dead,
        overlay,
        wireguard_dead,
        files,
        links,
        ports,
        unreachable,
        namespaces,
        tables: parse_save(&dump),
        bridge: host::ebtables_save()?,
        ip_forward: host::read_sysctl(crate::plan::vpc::IP_FORWARD).unwrap_or_else(|_| "?".into()),
        dead_apps,
        pvlan: state
            .vpcs
            .iter()
            .filter(|v| host::read_sysctl(&crate::plan::instance::pvlan_key(v)).is_ok_and(|x| x.trim() == "1"))
            .map(|v| v.bridge.clone())
            .collect(),
    })
}

/// Each recorded subnet's bridge port, from sysfs (no process): its flags
/// under brport/, and the bridge's FDB (`brforward`, 16-byte records:
/// MAC, port number low byte, is_local, ageing timer, port number high byte).
fn read_ports(state: &State) -> HashMap<String, crate::plan::repair::Port> {
    let sys = |path: String| std::fs::read_to_string(path).map(|t| t.trim().to_string()).ok();
    let mut out = HashMap::new();
    for v in &state.vpcs {
        let fdb = std::fs::read(format!("/sys/class/net/{}/brforward", v.bridge)).unwrap_or_default();
        let entries: Vec<([u8; 6], u16)> =
            fdb.chunks_exact(16).map(|e| ([e[0], e[1], e[2], e[3], e[4], e[5]], u16::from(e[12]) << 8 | u16::from(e[6]))).collect();
        for s in &v.hosts() {
            let brport = format!("/sys/class/net/{}/brport", s.veth);
            let Some(port_no) = sys(format!("{brport}/port_no")) else { continue };
            let Ok(port_no) = u16::from_str_radix(port_no.trim_start_matches("0x"), 16) else { continue };
            let flag = |f: &str| sys(format!("{brport}/{f}"));
            let guarded = flag("learning").as_deref() == Some("0")
                && flag("unicast_flood").as_deref() == Some("0")
                && flag("isolated").as_deref() == Some("1");
            let mac = crate::model::kernel_names::subnet_mac_bytes(s.ip);
            let ports: Vec<u16> = entries.iter().filter(|(m, _)| *m == mac).map(|(_, p)| *p).collect();
            out.insert(s.veth.clone(), crate::plan::repair::Port { guarded, fdb: ports == [port_no] });
        }
    }
    out
}

#[derive(serde::Deserialize)]
struct IpLink {
    ifname: String,
    #[serde(default)]
    flags: Vec<String>,
    #[serde(default)]
    master: Option<String>,
    #[serde(default)]
    addr_info: Vec<IpAddr>,
}

#[derive(serde::Deserialize)]
struct IpAddr {
    family: String,
    local: String,
    prefixlen: u8,
}

fn root_links() -> Result<HashMap<String, Link>> {
    let out =
        Command::new(resolve("ip")?).args(["-j", "addr", "show"]).output().map_err(|err| RunError::Spawn { prog: "ip".into(), err })?;
    if !out.status.success() {
        anyhow::bail!("'ip -j addr show' failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    parse_ip_json(&out.stdout)
}

/// The tunnel devices' routes (/proc/net/route), permanent neighbours
/// (/proc/net/arp) and FDB entries (`bridge fdb show`), as
/// `plan::overlay::Entry::key` names them.
fn overlay_entries() -> std::collections::HashSet<String> {
    use crate::plan::overlay::{fdb_key, neigh_key, route_key};
    let tunnel = |d: &str| d.starts_with("vx");
    let mut out = std::collections::HashSet::new();
    for r in host::route_table().into_iter().filter(|r| tunnel(&r.dev) && !r.gateway.is_unspecified()) {
        out.insert(route_key(&r.dest.to_string(), &r.gateway.to_string(), &r.dev));
    }
    // IP address, HW type, Flags, HW address, Mask, Device; 0x4 is ATF_PERM.
    for l in std::fs::read_to_string("/proc/net/arp").unwrap_or_default().lines().skip(1) {
        let w: Vec<&str> = l.split_whitespace().collect();
        let perm = w.get(2).and_then(|f| u32::from_str_radix(f.trim_start_matches("0x"), 16).ok()).is_some_and(|f| f & 0x4 != 0);
        if w.len() >= 6 && perm && tunnel(w[5]) {
            out.insert(neigh_key(w[0], w[3], w[5]));
        }
    }
    if let Ok(o) = std::process::Command::new("bridge").args(["fdb", "show"]).output() {
        for l in String::from_utf8_lossy(&o.stdout).lines() {
            let w: Vec<&str> = l.split_whitespace().collect();
            if let (Some(mac), Some(i), Some(j)) = (w.first(), w.iter().position(|x| *x == "dev"), w.iter().position(|x| *x == "dst"))
                && w.get(i + 1).is_some_and(|d| tunnel(d))
                && let Some(dst) = w.get(j + 1)
            {
                out.insert(fdb_key(mac, w[i + 1], dst));
            }
        }
    }
    out
}

pub fn parse_ip_json(bytes: &[u8]) -> Result<HashMap<String, Link>> {
    let links: Vec<IpLink> = serde_json::from_slice(bytes).context("cannot read the output of 'ip -j addr show'")?;
    Ok(links
        .into_iter()
        .map(|l| {
            let addrs =
                l.addr_info.iter().filter(|a| a.family == "inet").filter_map(|a| Some((a.local.parse().ok()?, a.prefixlen))).collect();
            (l.ifname, Link { up: l.flags.iter().any(|f| f == "UP"), master: l.master, addrs })
        })
        .collect())
}

/// Read every namespace in `wanted` (name, whether to read its filter
/// table) on a few worker threads.
/// Which iptables tables to read inside a namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rules {
    None,
    Filter,
    Nat,
}

/// The lines an `ip` command prints (one process); none if it fails.
fn ip_lines(args: &[&str]) -> Vec<String> {
    let Ok(ip) = resolve("ip") else { return vec![] };
    match Command::new(ip).args(args).output() {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect(),
        _ => vec![],
    }
}

fn read_namespaces(wanted: &[(String, Rules)]) -> HashMap<String, Option<Netns>> {
    const WORKERS: usize = 8;
    let chunk = wanted.len().div_ceil(WORKERS).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = wanted
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(|(ns, rules)| (ns.clone(), read_netns(ns, *rules))).collect::<Vec<_>>()))
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    })
}

/// Join `ns` on a fresh thread (so the worker stays where it was) and read it.
fn read_netns(ns: &str, rules: Rules) -> Option<Netns> {
    let file = File::open(format!("/run/netns/{ns}")).ok()?;
    std::thread::scope(|scope| {
        scope
            .spawn(move || {
                // SAFETY: setns on a namespace fd we hold; affects this thread only.
                if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                    return None;
                }
                let links = host::ifaddrs().ok()?;
                let default_via = default_gateway(&host::route_table());
                let filter_rules = match rules {
                    Rules::None => None,
                    Rules::Filter => rules_here(&["-t", "filter"]),
                    Rules::Nat => rules_here(&["-t", "nat"]),
                };
                Some(Netns { links, default_via, filter_rules })
            })
            .join()
            .ok()
            .flatten()
    })
}

/// The gateway of the default route.
fn default_gateway(routes: &[host::Route]) -> Option<Ipv4Addr> {
    routes.iter().find(|r| r.dest.prefix_len() == 0 && !r.reject).map(|r| r.gateway)
}

/// `iptables-save` (of `args`' tables), run from this thread: the child is
/// created in the thread's network namespace.
fn rules_here(args: &[&str]) -> Option<Vec<String>> {
    let out = Command::new(resolve("iptables-save").ok()?).args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Some(parse_save(&text).into_iter().flat_map(|t| t.rules).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ip_json_and_proc_routes() {
        let json = br#"[{"ifindex":2,"ifname":"br-x","flags":["BROADCAST","UP"],"addr_info":[
            {"family":"inet","local":"10.1.1.1","prefixlen":24},{"family":"inet6","local":"fe80::1","prefixlen":64}]},
            {"ifindex":3,"ifname":"v-x-a","flags":["BROADCAST"],"master":"br-x","addr_info":[]}]"#;
        let links = parse_ip_json(json).unwrap();
        assert_eq!(links["br-x"], Link { up: true, master: None, addrs: vec![("10.1.1.1".parse().unwrap(), 24)] });
        assert_eq!(links["v-x-a"], Link { up: false, master: Some("br-x".into()), addrs: vec![] });
        let route = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\n\
            eth0\t0001010A\t00000000\t0001\t0\t0\t0\t00FFFFFF\n\
            eth0\t00000000\t0101010A\t0003\t0\t0\t0\t00000000\n";
        assert_eq!(default_gateway(&host::parse_proc_route(route)), Some("10.1.1.1".parse().unwrap()));
        assert_eq!(default_gateway(&[]), None);
    }

    #[test]
    fn reads_this_threads_namespace() {
        let links = host::ifaddrs().unwrap();
        assert!(links.contains_key("lo"), "{links:?}");
    }
}
