//! Flow logs: the collector process and its records.
//!
//! The kernel copies packet headers to an NFLOG group (rules from
//! `plan::flow`). ulogd2 reads the group and writes one JSON object per
//! packet into a FIFO; the collector (`vpcctl flow-logs collect`, ulogd's
//! parent, in one process group) sums packets into flows over a capture
//! window and appends one AWS-style record per flow and subnet interface
//! to `records.jsonl`, rotated to `records.jsonl.1` past the size cap.
//! `flow-logs show` asks it, over a unix socket, to write out what it has
//! so far, so a record appears within a moment of the traffic.
//!
//! A flood cannot grow it or erase the history: a window holds at most
//! `MAX_FLOWS` flows, and one write at most half the size cap; what does
//! not fit is counted into a SKIPDATA record per interface, as AWS does
//! when it cannot capture a window's records. The kernel also copies at
//! most `plan::flow::LOG_RATE` packets a second per rule.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::Ipv4Addr;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow};
use serde::{Deserialize, Serialize};

use crate::model::State;
use crate::model::services::FlowLogCollector;
use crate::plan::flow::{ACCEPT_PREFIX, REJECT_PREFIX};

pub const RECORDS: &str = "records.jsonl";
const CONTROL: &str = "control.sock";
const FIFO: &str = "packets.fifo";

/// One record, AWS's default format (version 2) plus the VPC it is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Record {
    pub vpc: String,
    pub version: u8,
    #[serde(rename = "account-id")]
    pub account_id: Option<String>,
    #[serde(rename = "interface-id")]
    pub interface_id: String,
    /// `None` in a SKIPDATA record (AWS's "-"), as are the ports and protocol.
    pub srcaddr: Option<Ipv4Addr>,
    pub dstaddr: Option<Ipv4Addr>,
    pub srcport: Option<u16>,
    pub dstport: Option<u16>,
    pub protocol: Option<u8>,
    pub packets: u64,
    pub bytes: u64,
    pub start: u64,
    pub end: u64,
    pub action: String,
    #[serde(rename = "log-status")]
    pub log_status: String,
}

impl Record {
    /// What could not be kept of a window at one interface: how many
    /// packets and bytes, and when.
    pub fn skipdata(vpc: &str, interface: &str, packets: u64, bytes: u64, start: u64, end: u64) -> Record {
        Record {
            vpc: vpc.to_string(),
            version: 2,
            account_id: None,
            interface_id: interface.to_string(),
            srcaddr: None,
            dstaddr: None,
            srcport: None,
            dstport: None,
            protocol: None,
            packets,
            bytes,
            start,
            end,
            action: "-".into(),
            log_status: "SKIPDATA".into(),
        }
    }

    /// The space-separated line, '-' for what is missing.
    pub fn line(&self) -> String {
        let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
        format!(
            "{} {} {} {} {} {} {} {} {} {} {} {} {} {}",
            self.version,
            opt(self.account_id.clone()),
            self.interface_id,
            opt(self.srcaddr.map(|a| a.to_string())),
            opt(self.dstaddr.map(|a| a.to_string())),
            opt(self.srcport.map(|p| p.to_string())),
            opt(self.dstport.map(|p| p.to_string())),
            opt(self.protocol.map(|p| p.to_string())),
            self.packets,
            self.bytes,
            self.start,
            self.end,
            self.action,
            self.log_status
        )
    }

    /// The record as `show --json` prints it: AWS's field names only.
    pub fn json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.remove("vpc");
        }
        v
    }
}

/// One packet as ulogd2's JSON output describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub accepted: bool,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub sport: Option<u16>,
    pub dport: Option<u16>,
    pub protocol: u8,
    pub bytes: u64,
    pub time: u64,
}

/// Parse a line of ulogd2's JSON output; `None` for anything not ours.
pub fn parse_packet(line: &str) -> Option<Packet> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    let accepted = match v.get("oob.prefix")?.as_str()? {
        ACCEPT_PREFIX => true,
        REJECT_PREFIX => false,
        _ => return None,
    };
    let num = |k: &str| v.get(k).and_then(serde_json::Value::as_u64);
    let port = |k: &str| num(k).and_then(|p| u16::try_from(p).ok());
    Some(Packet {
        accepted,
        src: v.get("src_ip")?.as_str()?.parse().ok()?,
        dst: v.get("dest_ip")?.as_str()?.parse().ok()?,
        sport: port("src_port"),
        dport: port("dest_port"),
        protocol: u8::try_from(num("ip.protocol")?).ok()?,
        bytes: num("ip.totlen").or_else(|| num("raw.pktlen"))?,
        time: num("oob.time.sec").unwrap_or_else(now),
    })
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct FlowKey {
    accepted: bool,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    sport: Option<u16>,
    dport: Option<u16>,
    protocol: u8,
}

#[derive(Debug, Clone, Copy)]
struct Counts {
    packets: u64,
    bytes: u64,
    start: u64,
    end: u64,
}

/// Flows one window holds; packets of further flows are only counted
/// (SKIPDATA). 10,000 flows are about 1 MB of memory.
pub const MAX_FLOWS: usize = 10_000;
/// Addresses whose skipped packets are counted (a subnet's address is
/// one end of every flow it logs, so this is generous).
const MAX_SKIPPED_ENDS: usize = 4096;

impl Counts {
    fn new(p: &Packet) -> Counts {
        Counts { packets: 0, bytes: 0, start: p.time, end: p.time }
    }

    fn add(&mut self, packets: u64, bytes: u64, start: u64, end: u64) {
        self.packets += packets;
        self.bytes += bytes;
        self.start = self.start.min(start);
        self.end = self.end.max(end);
    }
}

/// Packets summed into flows until the window closes.
#[derive(Debug, Default)]
pub struct Aggregator {
    flows: HashMap<FlowKey, Counts>,
    /// Per address, packets of flows that did not fit in the window.
    skipped: HashMap<Ipv4Addr, Counts>,
}

impl Aggregator {
    pub fn add(&mut self, p: &Packet) {
        let key = FlowKey { accepted: p.accepted, src: p.src, dst: p.dst, sport: p.sport, dport: p.dport, protocol: p.protocol };
        if self.flows.len() >= MAX_FLOWS && !self.flows.contains_key(&key) {
            for ip in [p.src, p.dst] {
                if self.skipped.len() < MAX_SKIPPED_ENDS || self.skipped.contains_key(&ip) {
                    self.skipped.entry(ip).or_insert_with(|| Counts::new(p)).add(1, p.bytes, p.time, p.time);
                }
            }
            return;
        }
        self.flows.entry(key).or_insert_with(|| Counts::new(p)).add(1, p.bytes, p.time, p.time);
    }

    /// The records of the window so far, one per flow and per subnet
    /// interface of a VPC with flow logs on (both ends, as AWS logs a flow
    /// at each network interface it crosses); the window starts afresh.
    pub fn drain(&mut self, state: &State) -> Vec<Record> {
        let mut ends: HashMap<Ipv4Addr, (&str, &str)> = HashMap::new();
        for v in state.vpcs.iter().filter(|v| v.flow_logs) {
            for (_, i) in v.instances() {
                ends.insert(i.ip, (v.name.as_str(), i.veth.as_str()));
            }
            for s in &v.subnets {
                ends.insert(s.ip, (v.name.as_str(), s.veth.as_str()));
            }
        }
        let mut out = vec![];
        for (ip, c) in self.skipped.drain() {
            if let Some((vpc, veth)) = ends.get(&ip).copied() {
                out.push(Record::skipdata(vpc, veth, c.packets, c.bytes, c.start, c.end));
            }
        }
        for (k, c) in self.flows.drain() {
            let mut seen = vec![];
            for ip in [k.src, k.dst] {
                let Some((vpc, veth)) = ends.get(&ip).copied() else { continue };
                if seen.contains(&veth) {
                    continue;
                }
                seen.push(veth);
                out.push(Record {
                    vpc: vpc.to_string(),
                    version: 2,
                    account_id: None,
                    interface_id: veth.to_string(),
                    srcaddr: Some(k.src),
                    dstaddr: Some(k.dst),
                    srcport: k.sport,
                    dstport: k.dport,
                    protocol: Some(k.protocol),
                    packets: c.packets,
                    bytes: c.bytes,
                    start: c.start,
                    end: c.end,
                    action: if k.accepted { "ACCEPT" } else { "REJECT" }.into(),
                    log_status: "OK".into(),
                });
            }
        }
        out.sort_by(|a, b| (a.start, a.srcaddr, a.dstaddr, &a.interface_id).cmp(&(b.start, b.srcaddr, b.dstaddr, &b.interface_id)));
        out
    }
}

/// The lines of `records` that fit in `budget` bytes; what does not fit
/// becomes one SKIPDATA record per interface, for which room is kept.
fn lines_within(records: &[Record], budget: usize) -> String {
    /// A SKIPDATA line is about 250 bytes (a VPC and an interface name
    /// are at most 64 and 15).
    const SKIP_LINE: usize = 320;
    let line = |r: &Record| serde_json::to_string(r).unwrap_or_default() + "\n";
    let mut text = String::new();
    let mut over: std::collections::BTreeMap<(String, String), Counts> = Default::default();
    let interfaces: std::collections::HashSet<(&str, &str)> = records.iter().map(|r| (r.vpc.as_str(), r.interface_id.as_str())).collect();
    let room = budget.saturating_sub(interfaces.len() * SKIP_LINE);
    for r in records {
        let l = line(r);
        if over.is_empty() && text.len() + l.len() <= room {
            text.push_str(&l);
            continue;
        }
        let c = over.entry((r.vpc.clone(), r.interface_id.clone())).or_insert(Counts { packets: 0, bytes: 0, start: r.start, end: r.end });
        c.add(r.packets, r.bytes, r.start, r.end);
    }
    for ((vpc, veth), c) in over {
        text.push_str(&line(&Record::skipdata(&vpc, &veth, c.packets, c.bytes, c.start, c.end)));
    }
    text
}

/// Append records to the file, rotating it first when it would pass `max`.
fn append(dir: &Path, records: &[Record], max: u64) -> std::io::Result<()> {
    if records.is_empty() {
        return Ok(());
    }
    let path = dir.join(RECORDS);
    // Two files of at most half the cap each: one write fits in one.
    let text = lines_within(records, (max / 2) as usize);
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    if size > 0 && size + text.len() as u64 > max / 2 {
        // Two files of at most half the cap each: the cap holds for both.
        std::fs::rename(&path, dir.join(format!("{RECORDS}.1")))?;
    }
    let mut f = crate::kernel::files::append(&path, 0o600)?;
    f.write_all(text.as_bytes())
}

/// Every record kept, oldest first.
pub fn read_records(dir: &Path) -> Vec<Record> {
    let mut out = vec![];
    for name in [format!("{RECORDS}.1"), RECORDS.to_string()] {
        let text = std::fs::read_to_string(dir.join(name)).unwrap_or_default();
        out.extend(text.lines().filter_map(|l| serde_json::from_str(l).ok()));
    }
    out
}

/// Ask the running collector to write out its window so far. Returns
/// false when none answers (not running): the files are all there is.
pub fn flush(dir: &Path) -> bool {
    let Ok(mut s) = UnixStream::connect(dir.join(CONTROL)) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_secs(3)));
    if s.write_all(b"flush\n").is_err() {
        return false;
    }
    let mut reply = String::new();
    BufReader::new(s).read_line(&mut reply).is_ok() && reply.trim() == "ok"
}

/// Where ulogd's plugins are (Debian puts them under the multiarch dir).
fn ulogd_plugins() -> Result<PathBuf> {
    let candidates = std::fs::read_dir("/usr/lib")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("ulogd"))
        .chain([PathBuf::from("/usr/lib/ulogd"), PathBuf::from("/usr/local/lib/ulogd")]);
    for dir in candidates {
        if dir.join("ulogd_inppkt_NFLOG.so").exists() && dir.join("ulogd_output_JSON.so").exists() {
            return Ok(dir);
        }
    }
    Err(crate::kernel::host::RunError::Missing { prog: "ulogd's JSON output plugin", hint: "apt-get install -y ulogd2-json" }.into())
}

pub fn ulogd_program() -> Result<PathBuf> {
    Ok(crate::kernel::host::resolve("ulogd")?)
}

/// Check, before anything changes, that the collector could run.
pub fn check_installed() -> Result<()> {
    ulogd_program()?;
    ulogd_plugins()?;
    Ok(())
}

/// A burst of new flows outruns ulogd's default netlink buffer, and events
/// lost there are never counted (not even as SKIPDATA): ulogd grows the
/// buffer up to the max when the kernel says it overflowed.
fn ulogd_conf(c: &FlowLogCollector, plugins: &Path) -> String {
    let p = |n: &str| format!("plugin=\"{}\"\n", plugins.join(n).display());
    format!(
        "# written by vpcctl: NFLOG group {g} -> JSON lines into the collector's FIFO\n[global]\nlogfile=\"{log}\"\nloglevel=3\n{a}{b}{c}{d}stack=log1:NFLOG,base1:BASE,ip2str1:IP2STR,json1:JSON\n\n[log1]\ngroup={g}\nnetlink_socket_buffer_size=217088\nnetlink_socket_buffer_maxsize=8388608\n\n[json1]\nsync=1\nfile=\"{fifo}\"\n",
        g = c.group,
        log = c.dir.join("ulogd.log").display(),
        a = p("ulogd_inppkt_NFLOG.so"),
        b = p("ulogd_raw2packet_BASE.so"),
        c = p("ulogd_filter_IP2STR.so"),
        d = p("ulogd_output_JSON.so"),
        fifo = c.dir.join(FIFO).display(),
    )
}

/// The collector's main: run ulogd, sum its packets, write records every
/// window and whenever `show` asks. Runs until stopped (its process group
/// is ended by `flow-logs disable` or the last logged VPC's deletion).
pub fn collect(state_dir: &Path) -> Result<()> {
    let state = crate::state::Store::open_readonly(state_dir).load()?;
    let c = state.host.flow_logs.clone().ok_or_else(|| anyhow!("no flow-log collector is recorded in {}", state_dir.display()))?;
    // Root's alone: the records say who talked to whom.
    crate::kernel::files::dir(&c.dir, 0o700)?;
    let packets = make_fifo(&c.dir.join(FIFO))?;
    let mut ulogd = start_ulogd(&c)?;
    let agg = Arc::new(Mutex::new(Aggregator::default()));
    let flusher = {
        let (agg, dir, state_dir, max) = (agg.clone(), c.dir.clone(), state_dir.to_path_buf(), c.max_bytes);
        // Under the aggregator's lock, so two flushes never interleave.
        move || -> std::io::Result<()> {
            let state = crate::state::Store::open_readonly(&state_dir).load().unwrap_or_default();
            let mut a = agg.lock().map_err(|_| std::io::Error::other("aggregator lock poisoned"))?;
            append(&dir, &a.drain(&state), max)
        }
    };
    std::thread::spawn(move || read_packets(packets, &agg));
    let control = c.dir.join(CONTROL);
    let _ = std::fs::remove_file(&control);
    let listener = UnixListener::bind(&control).with_context(|| format!("cannot listen on {}", control.display()))?;
    std::fs::set_permissions(&control, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    let on_request = flusher.clone();
    std::thread::spawn(move || serve_flushes(listener, on_request));
    errln!("collecting NFLOG group {} into {} every {} s", c.group, c.dir.join(RECORDS).display(), c.window_secs);
    let window = Duration::from_secs(u64::from(c.window_secs.max(1)));
    let mut next = Instant::now() + window;
    loop {
        std::thread::sleep(Duration::from_millis(200));
        if let Ok(Some(status)) = ulogd.try_wait() {
            return Err(anyhow!("ulogd exited ({status}); see {}", c.dir.join("ulogd.log").display()));
        }
        if Instant::now() >= next {
            flusher().context("cannot write flow records")?;
            next = Instant::now() + window;
        }
    }
}

/// A FIFO for ulogd's output, opened for reading and writing: never an end
/// of file, whenever ulogd opens or reopens it.
fn make_fifo(path: &Path) -> Result<std::fs::File> {
    let _ = std::fs::remove_file(path);
    let cpath = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())?;
    // SAFETY: mkfifo with a valid path.
    if unsafe { libc::mkfifo(cpath.as_ptr(), 0o600) } != 0 {
        return Err(std::io::Error::last_os_error()).with_context(|| format!("cannot make {}", path.display()));
    }
    Ok(std::fs::OpenOptions::new().read(true).write(true).open(path)?)
}

/// ulogd on the collector's NFLOG group, writing into the FIFO; started as
/// our child, in our process group, so it ends with us.
fn start_ulogd(c: &FlowLogCollector) -> Result<std::process::Child> {
    let conf = c.dir.join("ulogd.conf");
    crate::kernel::files::write_atomic(&conf, ulogd_conf(c, &ulogd_plugins()?).as_bytes(), 0o600, None)?;
    let log = c.dir.join("ulogd.log");
    let _ = std::fs::remove_file(&log);
    // Root only to bind the NFLOG group and open its files; then its own user.
    let mut ulogd = std::process::Command::new(ulogd_program()?)
        .args(["-u", crate::helpers::apps::helper_user(crate::helpers::apps::FLOWLOG_USER), "-c"])
        .arg(&conf)
        .spawn()
        .context("cannot start ulogd")?;
    wait_for_ulogd(&mut ulogd, &log)?;
    Ok(ulogd)
}

fn read_packets(fifo: std::fs::File, agg: &Mutex<Aggregator>) {
    for line in BufReader::new(fifo).lines().map_while(Result::ok) {
        if let Some(p) = parse_packet(&line)
            && let Ok(mut a) = agg.lock()
        {
            a.add(&p);
        }
    }
}

/// `show` asks "flush" on the control socket: the window so far is written,
/// then "ok".
fn serve_flushes(listener: UnixListener, flush: impl Fn() -> std::io::Result<()>) {
    for mut conn in listener.incoming().map_while(Result::ok) {
        let mut buf = [0u8; 16];
        let _ = conn.set_read_timeout(Some(Duration::from_secs(1)));
        let n = conn.read(&mut buf).unwrap_or(0);
        if buf[..n].starts_with(b"flush") {
            // Packets copied a moment ago may still be on their way through ulogd.
            std::thread::sleep(Duration::from_millis(100));
            let reply: &[u8] = if flush().is_ok() { b"ok\n" } else { b"error\n" };
            let _ = conn.write_all(reply);
        }
    }
}

/// ulogd says when it has bound the NFLOG group; until then packets
/// would be lost, so the collector is not ready.
fn wait_for_ulogd(ulogd: &mut std::process::Child, log: &Path) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = ulogd.try_wait() {
            return Err(anyhow!("ulogd exited ({status}): {}", crate::helpers::apps::log_tail(log, 5)));
        }
        if std::fs::read_to_string(log).is_ok_and(|t| t.contains("entering main loop")) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = ulogd.kill();
    Err(anyhow!("ulogd did not start within 5 s: {}", crate::helpers::apps::log_tail(log, 5)))
}

/// Start the collector recorded in `state` and wait until it answers.
pub fn start(state_dir: &Path, c: &FlowLogCollector) -> Result<crate::model::services::Helper> {
    check_installed()?;
    let me = std::env::current_exe().context("cannot find the vpcctl binary to run the flow-log collector")?;
    let args: Vec<String> = vec!["--state-dir".into(), state_dir.display().to_string(), "flow-logs".into(), "collect".into()];
    let log = c.dir.join("collector.log");
    let mut child = crate::helpers::apps::spawn_helper(&me, &args, &log)?;
    let helper = crate::model::services::Helper { pid: child.id(), start_time: crate::helpers::apps::start_time(child.id()).unwrap_or(0) };
    let deadline = Instant::now() + Duration::from_secs(8);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(anyhow!(
                "the flow-log collector exited ({status}). Log {}:\n{}",
                log.display(),
                crate::helpers::apps::log_tail(&log, 5)
            ));
        }
        if UnixStream::connect(c.dir.join(CONTROL)).is_ok() {
            return Ok(helper);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    crate::helpers::apps::stop(helper.pid, helper.start_time);
    Err(anyhow!("the flow-log collector did not start within 8 s. Log {}:\n{}", log.display(), crate::helpers::apps::log_tail(&log, 5)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SubnetKind::{Private, Public};
    use crate::model::testing::vpc;

    const ULOGD_LINE: &str = r#"{"timestamp": "2026-11-23T14:14:50.434134", "dvc": "Netfilter", "raw.pktlen": 60, "oob.prefix": "vpcctl-REJECT", "oob.time.sec": 1795443290, "ip.protocol": 6, "ip.totlen": 60, "src_port": 47466, "dest_port": 81, "src_ip": "10.1.1.2", "dest_ip": "10.2.1.2"}"#;

    #[test]
    fn ulogd_lines_become_packets() {
        let p = parse_packet(ULOGD_LINE).unwrap();
        assert_eq!((p.accepted, p.protocol, p.bytes, p.sport, p.dport, p.time), (false, 6, 60, Some(47466), Some(81), 1795443290));
        let icmp = ULOGD_LINE
            .replace("vpcctl-REJECT", "vpcctl-ACCEPT")
            .replace("\"ip.protocol\": 6", "\"ip.protocol\": 1")
            .replace("\"src_port\": 47466, \"dest_port\": 81, ", "");
        let p = parse_packet(&icmp).unwrap();
        assert!(p.accepted && p.sport.is_none() && p.protocol == 1);
        assert!(parse_packet(&ULOGD_LINE.replace("vpcctl-REJECT", "someone-else")).is_none(), "not our prefix");
        assert!(parse_packet("not json").is_none());
    }

    #[test]
    fn packets_sum_into_one_record_per_flow_and_logged_interface() {
        let mut a = vpc("a", "10.1.0.0/16", &[("web", "10.1.1.0/24", Public)]);
        a.flow_logs = true;
        let b = vpc("b", "10.2.0.0/16", &[("api", "10.2.1.0/24", Private)]);
        let st = State { vpcs: vec![a, b], ..State::default() };
        let mut agg = Aggregator::default();
        let p = parse_packet(ULOGD_LINE).unwrap();
        for i in 0..3 {
            agg.add(&Packet { time: p.time + i, ..p.clone() });
        }
        let r = agg.drain(&st);
        assert_eq!(r.len(), 1, "b has no flow logs: only a's interface: {r:?}");
        assert_eq!((r[0].packets, r[0].bytes, r[0].start, r[0].end), (3, 180, p.time, p.time + 2));
        assert_eq!(r[0].line(), format!("2 - v-a-web 10.1.1.2 10.2.1.2 47466 81 6 3 180 {} {} REJECT OK", p.time, p.time + 2));
        assert!(agg.drain(&st).is_empty(), "a new window starts empty");
        let json = r[0].json();
        assert!(json.get("vpc").is_none() && json["interface-id"] == "v-a-web" && json["log-status"] == "OK");
    }

    #[test]
    fn the_records_file_rotates_within_its_cap() {
        let dir = std::env::temp_dir().join(format!("vpcctl-flow-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut a = vpc("a", "10.1.0.0/16", &[("web", "10.1.1.0/24", Public)]);
        a.flow_logs = true;
        let st = State { vpcs: vec![a], ..State::default() };
        let p = parse_packet(ULOGD_LINE).unwrap();
        for i in 0..50u16 {
            let mut agg = Aggregator::default();
            agg.add(&Packet { sport: Some(i), ..p.clone() });
            append(&dir, &agg.drain(&st), 2000).unwrap();
        }
        let total: u64 =
            ["records.jsonl", "records.jsonl.1"].iter().map(|f| std::fs::metadata(dir.join(f)).map(|m| m.len()).unwrap_or(0)).sum();
        assert!(total <= 2000, "both files within the cap: {total}");
        let kept = read_records(&dir);
        assert!(!kept.is_empty() && kept.last().unwrap().srcport == Some(49), "newest kept last");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_flood_of_flows_is_capped_and_reported_as_skipdata() {
        let mut a = vpc("a", "10.1.0.0/16", &[("web", "10.1.1.0/24", Public)]);
        a.flow_logs = true;
        let st = State { vpcs: vec![a], ..State::default() };
        let p = parse_packet(ULOGD_LINE).unwrap();
        let mut agg = Aggregator::default();
        for i in 0..(MAX_FLOWS as u32 + 100) {
            agg.add(&Packet { sport: Some((i % 60000) as u16), dport: Some((i / 60000) as u16), ..p.clone() });
        }
        let r = agg.drain(&st);
        let skip: Vec<&Record> = r.iter().filter(|r| r.log_status == "SKIPDATA").collect();
        assert_eq!((r.len(), skip.len()), (MAX_FLOWS + 1, 1));
        assert_eq!((skip[0].packets, skip[0].interface_id.as_str()), (100, "v-a-web"));
        assert!(
            skip[0].line().starts_with("2 - v-a-web - - - - - 100 6000 ") && skip[0].line().ends_with(" - SKIPDATA"),
            "{}",
            skip[0].line()
        );
        // One write keeps within its half of the cap, and says what it left out.
        let text = lines_within(&r, 100_000);
        assert!(text.len() <= 100_000, "{}", text.len());
        let last: Record = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        assert_eq!(last.log_status, "SKIPDATA");
        assert!(last.packets > 9000, "the flows left out are counted: {}", last.packets);
    }
}
