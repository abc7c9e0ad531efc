//! Facts about the host, read cheaply (files under /proc and /sys, or one
//! short process) and only when a command needs them.

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;

use ipnet::Ipv4Net;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum RunError {
    #[error("'{prog}' was not found on PATH; install it ({hint}) or run 'vpcctl doctor'")]
    Missing { prog: &'static str, hint: &'static str },
    #[error("could not run '{prog}': {err}")]
    Spawn { prog: String, err: std::io::Error },
    #[error("'{command}' failed ({status}):\n{detail}")]
    Failed { command: String, status: String, detail: String },
    #[error("could not set {key}: {err}")]
    Sysctl { key: String, err: std::io::Error },
    #[error("could not write {}: {err}", path.display())]
    File { path: std::path::PathBuf, err: std::io::Error },
}

pub fn install_hint(prog: &str) -> &'static str {
    match prog {
        "ip" => "apt-get install -y iproute2",
        "dnsmasq" => "apt-get install -y dnsmasq-base, or create VPCs with --no-dns",
        "ulogd" => "apt-get install -y ulogd2 ulogd2-json",
        "wg" | "wireguard-go" => "apt-get install -y wireguard-tools wireguard-go",
        _ => "apt-get install -y iptables",
    }
}

pub fn resolve(prog: &'static str) -> Result<std::path::PathBuf, RunError> {
    which::which(prog).map_err(|_| RunError::Missing { prog, hint: install_hint(prog) })
}

pub fn read_sysctl(key: &str) -> std::io::Result<String> {
    Ok(std::fs::read_to_string(sysctl_path(key))?.trim().to_string())
}

pub fn write_sysctl(key: &str, value: &str) -> std::io::Result<()> {
    std::fs::write(sysctl_path(key), format!("{value}\n"))
}

/// A sysctl inside namespace `netns` (or ours): /proc/sys/net follows the
/// namespace of the thread that opens it, so a thread joins it first.
pub fn write_sysctl_in(netns: Option<&str>, key: &str, value: &str) -> std::io::Result<()> {
    let Some(ns) = netns else { return write_sysctl(key, value) };
    let file = std::fs::File::open(std::path::Path::new("/run/netns").join(ns))?;
    std::thread::scope(|s| {
        s.spawn(|| {
            use std::os::fd::AsRawFd;
            // SAFETY: setns on a namespace fd we hold; affects this thread only.
            if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
            write_sysctl(key, value)
        })
        .join()
        .unwrap_or_else(|_| Err(std::io::Error::other("sysctl thread panicked")))
    })
}

fn sysctl_path(key: &str) -> String {
    format!("/proc/sys/{}", key.replace('.', "/"))
}

/// Interfaces of *our* network namespace. /proc/self/net follows the
/// process's namespace, unlike /sys/class/net, which shows the namespace
/// that mounted sysfs.
pub fn link_list() -> Vec<String> {
    let text = std::fs::read_to_string("/proc/self/net/dev").unwrap_or_default();
    parse_proc_net_dev(&text)
}

pub fn parse_proc_net_dev(text: &str) -> Vec<String> {
    let mut v: Vec<String> = text.lines().skip(2).filter_map(|l| l.split(':').next()).map(|n| n.trim().to_string()).collect();
    v.sort();
    v
}

pub fn link_exists(name: &str) -> bool {
    link_list().iter().any(|l| l == name)
}

pub fn netns_exists(name: &str) -> bool {
    Path::new("/run/netns").join(name).exists()
}

pub fn netns_list() -> Vec<String> {
    list_dir("/run/netns")
}

fn list_dir(dir: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// IPv4 routes of the main table, as (interface, network), from
/// /proc/net/route. Routes without a device (unreachable) are skipped.
pub fn routes() -> Vec<(String, Ipv4Net)> {
    route_table().into_iter().filter(|r| r.dev != "*").map(|r| (r.dev, r.dest)).collect()
}

/// Unreachable (reject) routes of the main table: /proc/net/route lists
/// them with device "*" and the RTF_REJECT flag.
pub fn unreachable_routes() -> std::collections::HashSet<Ipv4Net> {
    route_table().into_iter().filter(|r| r.dev == "*" && r.reject).map(|r| r.dest).collect()
}

/// One line of /proc/net/route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// "*" for routes without a device (unreachable ones).
    pub dev: String,
    pub dest: Ipv4Net,
    pub gateway: Ipv4Addr,
    /// RTF_REJECT: an unreachable route.
    pub reject: bool,
}

/// The main table of this (the calling thread's) network namespace.
pub fn route_table() -> Vec<Route> {
    parse_proc_route(&std::fs::read_to_string("/proc/thread-self/net/route").unwrap_or_default())
}

pub fn parse_proc_route(text: &str) -> Vec<Route> {
    const RTF_REJECT: u32 = 0x0200;
    let hex = |s: &str| u32::from_str_radix(s, 16).ok();
    let addr = |s: &str| hex(s).map(|v| Ipv4Addr::from(u32::from_be(v)));
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 8 {
                return None;
            }
            let prefix = u32::from(addr(f[7])?).count_ones() as u8;
            let dest = Ipv4Net::new(addr(f[1])?, prefix).ok()?;
            Some(Route { dev: f[0].to_string(), dest, gateway: addr(f[2])?, reject: hex(f[3])? & RTF_REJECT != 0 })
        })
        .collect()
}

/// TCP sockets listening in this thread's network namespace, as (local
/// address, port); IPv6 ones as 0.0.0.0 unless bound to loopback.
pub fn tcp_listeners() -> Vec<(Ipv4Addr, u16)> {
    const LISTEN: &str = "0A";
    let mut out = vec![];
    for (file, v6) in [("tcp", false), ("tcp6", true)] {
        let text = std::fs::read_to_string(format!("/proc/thread-self/net/{file}")).unwrap_or_default();
        for l in text.lines().skip(1) {
            let cols: Vec<&str> = l.split_whitespace().collect();
            let Some((addr, port)) = cols.get(1).and_then(|c| c.split_once(':')) else { continue };
            let Ok(port) = u16::from_str_radix(port, 16) else { continue };
            if cols.get(3) != Some(&LISTEN) {
                continue;
            }
            let ip = if v6 {
                let loopback = addr == "00000000000000000000000001000000";
                if loopback { Ipv4Addr::LOCALHOST } else { Ipv4Addr::UNSPECIFIED }
            } else {
                u32::from_str_radix(addr, 16).map(|v| Ipv4Addr::from(u32::from_be(v))).unwrap_or(Ipv4Addr::UNSPECIFIED)
            };
            out.push((ip, port));
        }
    }
    out
}

/// The interface of the host's default route, if it has one.
pub fn default_route_interface() -> Option<String> {
    routes().into_iter().find(|(_, n)| n.prefix_len() == 0).map(|(d, _)| d)
}

/// Links and IPv4 addresses of the calling thread's network namespace.
pub fn ifaddrs() -> std::io::Result<std::collections::HashMap<String, crate::plan::repair::Link>> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we free below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut links: std::collections::HashMap<String, crate::plan::repair::Link> = std::collections::HashMap::new();
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getifaddrs returned.
        let ifa = unsafe { &*cur };
        let name = unsafe { std::ffi::CStr::from_ptr(ifa.ifa_name) }.to_string_lossy().into_owned();
        let link = links.entry(name).or_default();
        link.up = ifa.ifa_flags & libc::IFF_UP as u32 != 0;
        if !ifa.ifa_addr.is_null() && i32::from(unsafe { (*ifa.ifa_addr).sa_family }) == libc::AF_INET {
            // SAFETY: an AF_INET sockaddr is a sockaddr_in; so is its netmask.
            let addr = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
            let prefix = if ifa.ifa_netmask.is_null() {
                32
            } else {
                u32::from_be(unsafe { &*(ifa.ifa_netmask as *const libc::sockaddr_in) }.sin_addr.s_addr).count_ones() as u8
            };
            link.addrs.push((Ipv4Addr::from(u32::from_be(addr.sin_addr.s_addr)), prefix));
        }
        cur = ifa.ifa_next;
    }
    // SAFETY: freeing the list getifaddrs allocated, once.
    unsafe { libc::freeifaddrs(head) };
    Ok(links)
}

/// Every IPv4 address of this namespace's interfaces, with its device.
pub fn local_addresses() -> Vec<(String, Ipv4Addr)> {
    let mut out: Vec<(String, Ipv4Addr)> =
        ifaddrs().unwrap_or_default().into_iter().flat_map(|(dev, l)| l.addrs.into_iter().map(move |(a, _)| (dev.clone(), a))).collect();
    out.sort();
    out
}

/// An interface's MTU in this thread's network namespace (SIOCGIFMTU: no
/// process, and /sys may show another namespace's links).
pub fn mtu(dev: &str) -> std::io::Result<u16> {
    let name = std::ffi::CString::new(dev).map_err(std::io::Error::other)?;
    if name.as_bytes().len() >= libc::IFNAMSIZ {
        return Err(std::io::Error::other(format!("{dev}: not an interface name")));
    }
    // SAFETY: a plain datagram socket, closed below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: ifreq is plain data; the name fits (checked above) with its NUL.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(name.as_bytes_with_nul()) {
        *d = *s as libc::c_char;
    }
    // SAFETY: SIOCGIFMTU reads the name and writes ifru_mtu of `req`.
    let rc = unsafe { libc::ioctl(fd, libc::SIOCGIFMTU, &mut req) };
    let err = std::io::Error::last_os_error();
    // SAFETY: `fd` is ours.
    unsafe { libc::close(fd) };
    if rc < 0 {
        return Err(err);
    }
    // SAFETY: the ioctl filled the mtu member.
    Ok(u16::try_from(unsafe { req.ifr_ifru.ifru_mtu }).unwrap_or(u16::MAX))
}

/// Whether the kernel has WireGuard: loaded, or a module it can load.
pub fn kernel_has_wireguard() -> bool {
    Path::new("/sys/module/wireguard").exists()
        || Command::new("modinfo")
            .arg("wireguard")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

/// `iptables -C` in the root namespace or inside `netns`.
pub fn rule_present(netns: Option<&str>, table: &str, chain: &str, rule: &[String]) -> Result<bool, RunError> {
    let mut cmd = match netns {
        Some(ns) => {
            let mut c = Command::new(resolve("ip")?);
            c.args(["netns", "exec", ns, "iptables"]);
            c
        }
        None => Command::new(resolve("iptables")?),
    };
    let out =
        cmd.args(["-w", "-t", table, "-C", chain]).args(rule).output().map_err(|err| RunError::Spawn { prog: "iptables".into(), err })?;
    match out.status.code() {
        Some(0) => Ok(true),
        // 1: no such rule; 2: our chain does not exist either.
        Some(1) | Some(2) => Ok(false),
        _ => Err(RunError::Failed {
            command: format!("iptables -t {table} -C {chain} {}", rule.join(" ")),
            status: out.status.to_string(),
            detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        }),
    }
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_net_dev() {
        let text = "Inter-|   Receive\n face |bytes\n    lo: 0 0\nbr-vpc1: 1 2\n v-vpc1-web: 3 4\n";
        assert_eq!(parse_proc_net_dev(text), ["br-vpc1", "lo", "v-vpc1-web"]);
    }

    #[test]
    fn parses_proc_net_route() {
        let text = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
            uplink0\t00000000\t017100CB\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
            uplink0\t007100CB\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
            *\t00000A0A\t00000000\t0201\t0\t0\t0\t0000FFFF\t0\t0\t0\n";
        let r = parse_proc_route(text);
        assert_eq!(r.len(), 3);
        assert_eq!((r[0].dev.as_str(), r[0].dest, r[0].gateway), ("uplink0", "0.0.0.0/0".parse().unwrap(), "203.0.113.1".parse().unwrap()));
        assert_eq!((r[1].dev.as_str(), r[1].dest, r[1].reject), ("uplink0", "203.0.113.0/24".parse().unwrap(), false));
        assert_eq!((r[2].dev.as_str(), r[2].dest, r[2].reject), ("*", "10.10.0.0/16".parse().unwrap(), true));
    }
}

/// Every error of a teardown that kept going past them, kept whole (as
/// netavark's error list does) rather than flattened into one string.
#[derive(Debug)]
pub struct ErrorList(pub Vec<RunError>);

impl std::fmt::Display for ErrorList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} error(s):", self.0.len())?;
        for e in &self.0 {
            write!(f, "\n  - {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ErrorList {}

/// Which iptables backend `iptables` is (its `-V` line), and whether the
/// other backend holds any rule, which vpcctl would not see.
pub struct Backend {
    pub version: String,
    pub nft: bool,
    pub other_has_rules: bool,
}

pub fn iptables_backend() -> Option<Backend> {
    let out = Command::new(resolve("iptables").ok()?).arg("-V").output().ok()?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let nft = version.contains("nf_tables");
    let other = if nft { "iptables-legacy-save" } else { "iptables-nft-save" };
    let other_has_rules =
        Command::new(other).output().map(|o| String::from_utf8_lossy(&o.stdout).lines().any(|l| l.starts_with("-A "))).unwrap_or(false);
    Some(Backend { version, nft, other_has_rules })
}

/// The whole ruleset, as `iptables-save` prints it. Only for rare commands
/// (doctor, teardown-all): its cost grows with the host's ruleset.
pub fn iptables_save() -> Result<String, RunError> {
    read_output("iptables-save", &[])
}

/// The bridge family's rules (`ebtables-save`), where the anti-spoofing lives.
pub fn ebtables_save() -> Result<String, RunError> {
    read_output("ebtables-save", &[])
}

/// A built-in chain's rules as `iptables -S` prints them.
/// `iptables -S` of one chain, or of the whole table when `chain` is "".
pub fn list_rules(table: &str, chain: &str) -> Result<Vec<String>, RunError> {
    let mut args = vec!["-w", "-t", table, "-S"];
    if !chain.is_empty() {
        args.push(chain);
    }
    Ok(read_output("iptables", &args)?.lines().map(str::to_string).collect())
}

fn read_output(prog: &'static str, args: &[&str]) -> Result<String, RunError> {
    let out = Command::new(resolve(prog)?).args(args).output().map_err(|err| RunError::Spawn { prog: prog.into(), err })?;
    if !out.status.success() {
        return Err(RunError::Failed {
            command: format!("{prog} {}", args.join(" ")).trim_end().to_string(),
            status: out.status.to_string(),
            detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
