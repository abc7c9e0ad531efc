//! Integration-test harness: every test gets its own sandbox (own network,
//! mount and PID namespaces, made by scripts/sandbox.sh) and runs commands
//! in it through nsenter. Nothing touches the host's network. Dropping the
//! sandbox kills everything in it.
//!
//! Without root (or without the tools) tests print that they were skipped;
//! with CI=true a skip is a failure.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// A fresh sandbox, or return from the test (Sandbox::new says why).
macro_rules! sandbox {
    () => {
        match common::Sandbox::new() {
            Some(sb) => sb,
            None => return,
        }
    };
}

pub const BIN: &str = env!("CARGO_BIN_EXE_vpcctl");

pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    pub fn ok(&self) -> bool {
        self.code == 0
    }
}

impl std::fmt::Debug for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}\n--- stdout\n{}--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

pub struct Sandbox {
    holder: Child,
    /// PID (in our namespace) of the sandbox's init process.
    pid: u32,
    /// Inode of its network namespace: vpcctl names app cgroups by it.
    netns: u64,
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn skip(why: &str) -> Option<Sandbox> {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("integration test cannot run: {why} (CI=true: a skip is a failure)");
    }
    // Not eprintln!: libtest captures that for passing tests, and a skip
    // must be visible.
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED: {why}");
    None
}

impl Sandbox {
    /// A fresh sandbox, or None (after saying so) where tests cannot run.
    pub fn new() -> Option<Sandbox> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return skip("needs root (sudo scripts/test.sh)");
        }
        for tool in [
            "ip",
            "bridge",
            "iptables",
            "iptables-restore",
            "ebtables-restore",
            "ping",
            "curl",
            "unshare",
            "nsenter",
            "dnsmasq",
            "ulogd",
            "socat",
            "setpriv",
            "flock",
        ] {
            if which::which(tool).is_err() {
                return skip(&format!("'{tool}' is not installed (scripts/test.sh installs it)"));
            }
        }
        let mut holder = Command::new(repo().join("scripts/sandbox.sh"))
            .args(["bash", "-c", "echo ready; exec sleep 86400"])
            .env("VPCCTL_BIN", BIN)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start scripts/sandbox.sh");
        let mut line = String::new();
        BufReader::new(holder.stdout.take().unwrap()).read_line(&mut line).expect("sandbox output");
        assert_eq!(line.trim(), "ready", "sandbox did not start");
        let unshare = holder.id();
        let pid = child_of(unshare).expect("sandbox init process");
        let netns = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(format!("/proc/{pid}/ns/net")).expect("sandbox netns"));
        Some(Sandbox { holder, pid, netns })
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("nsenter");
        c.args(["-t", &self.pid.to_string(), "-n", "-m", "-p", "--"]);
        c
    }

    /// Run a bash script inside the sandbox.
    pub fn sh(&self, script: &str) -> Out {
        let out = self.cmd().args(["bash", "-c", script]).env("VPCCTL", BIN).output().expect("nsenter");
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Run a script that must succeed; returns its stdout.
    pub fn ok(&self, script: &str) -> String {
        let out = self.sh(script);
        assert!(out.ok(), "script failed: {script}\n{out:?}");
        out.stdout
    }

    pub fn vpcctl(&self, args: &[&str]) -> Out {
        let out = self.cmd().arg(BIN).args(args).output().expect("nsenter vpcctl");
        let o = Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        assert!(!o.stderr.contains("panicked"), "vpcctl panicked: {args:?}\n{o:?}");
        o
    }

    /// vpcctl that must succeed; returns stdout.
    pub fn v(&self, args: &[&str]) -> String {
        let out = self.vpcctl(args);
        assert!(out.ok(), "vpcctl {args:?} failed\n{out:?}");
        out.stdout
    }

    /// A command that must be refused: non-zero exit and exactly one line
    /// on stderr that contains `needle` (the bad value, or what to do).
    pub fn refused(&self, args: &[&str], needle: &str) -> Out {
        let out = self.vpcctl(args);
        assert!(!out.ok(), "{args:?} succeeded\n{out:?}");
        assert!(out.stderr.contains(needle), "{args:?}: stderr lacks {needle:?}\n{out:?}");
        assert_eq!(out.stderr.trim().lines().count(), 1, "{args:?}: not one line\n{out:?}");
        out
    }

    /// Make the sandbox look like a Docker host: FORWARD policy DROP and
    /// rules of its own in filter and nat (and a bridge-family rule, as
    /// libvirt's would be), which vpcctl must leave alone.
    pub fn docker_like_host(&self) {
        self.ok("iptables -w -P FORWARD DROP
             iptables -w -N DOCKER-USER
             iptables -w -A DOCKER-USER -j RETURN
             iptables -w -A FORWARD -j DOCKER-USER
             iptables -w -A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
             iptables -w -A INPUT -p tcp --dport 2222 -j ACCEPT
             iptables -w -t nat -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
             ebtables -A FORWARD -i vnet0 -j ACCEPT");
    }

    /// What "the host as found" means: firewall (without counters), links,
    /// addresses, routes, namespaces and forwarding.
    pub fn snapshot(&self) -> String {
        self.ok("iptables-save | grep -v '^#' | sed 's/\\[[0-9]*:[0-9]*\\]//'
             echo '--- bridge family'; ebtables-save | grep -v '^#'
             echo '--- links'; ip -o link | awk '{print $2}' | sort
             echo '--- addrs'; ip -4 -o addr | awk '{print $2, $4}' | sort
             echo '--- routes'; ip -4 route show table all | sort
             echo '--- rules'; ip rule
             echo '--- netns'; ip netns
             echo '--- etc/netns'; find /etc/netns | sort
             echo '--- processes'; ps -e -o stat=,comm= | awk '$1 !~ /^Z/ && $2 !~ /^(ps|sort|awk|bash)$/ {print $2}' | sort
             echo '--- forwarding'; cat /proc/sys/net/ipv4/ip_forward")
    }

    pub fn ping(&self, ns: &str, ip: &str) -> bool {
        self.sh(&format!("ip netns exec {ns} ping -c1 -W1 {ip}")).ok()
    }

    /// Put a fake `ip` at /run/vpcctl-sandbox/shim/ip (the sandbox's private scratch) (use with PATH=/run/vpcctl-sandbox/shim:$PATH) that
    /// runs the real one, except on its `nth` call: "fail" exits 1 without
    /// running it; "hang" runs it, writes its PID to /run/vpcctl-sandbox/shim/hung and
    /// sleeps, so a test can kill vpcctl at a known point.
    pub fn ip_shim(&self, nth: u32, action: &str) {
        self.ok(&format!(
            r#"mkdir -p /run/vpcctl-sandbox/shim; rm -f /run/vpcctl-sandbox/shim/calls /run/vpcctl-sandbox/shim/hung
cat > /run/vpcctl-sandbox/shim/ip <<'SHIM'
#!/bin/bash
real=$(PATH=/usr/sbin:/sbin:/usr/bin:/bin command -v ip)
echo x >> /run/vpcctl-sandbox/shim/calls
n=$(wc -l < /run/vpcctl-sandbox/shim/calls)
if [ "$n" -eq {nth} ] && [ {action} = fail ]; then echo "shim: failing call $n" >&2; exit 1; fi
"$real" "$@"; rc=$?
if [ "$n" -eq {nth} ] && [ {action} = hang ]; then echo $$ > /run/vpcctl-sandbox/shim/hung; exec sleep 60; fi
exit $rc
SHIM
chmod +x /run/vpcctl-sandbox/shim/ip"#
        ));
    }

    /// Packets that reached the fake internet with a private source address
    /// (anything that left a VPC without NAT).
    pub fn leaked(&self) -> u64 {
        let out = self.ok("ip netns exec internet iptables -w -t raw -L PREROUTING -v -x -n");
        out.lines()
            .filter(|l| l.contains("leaked private source"))
            .map(|l| l.split_whitespace().next().unwrap().parse::<u64>().unwrap())
            .sum()
    }

    /// The body `curl` fetched from inside `ns`, or None if it failed.
    pub fn curl(&self, ns: &str, url: &str) -> Option<String> {
        let out = self.sh(&format!("ip netns exec {ns} curl -s -m 2 {url}"));
        out.ok().then_some(out.stdout)
    }

    /// Start vpcctl's HTTP server in `ns` by hand (not as a vpcctl app); the
    /// test ends it with `end_by_hand` before comparing the host.
    pub fn serve_by_hand(&self, ns: &str, port: u16) {
        self.ok(&format!(
            "ip netns exec {ns} $VPCCTL serve --port {port} >/dev/null 2>&1 & echo $! >> /run/vpcctl-sandbox/by-hand.pids; sleep 0.3"
        ));
    }

    /// End what `serve_by_hand` started, by PID.
    pub fn end_by_hand(&self) {
        self.ok("[ -f /run/vpcctl-sandbox/by-hand.pids ] && kill $(cat /run/vpcctl-sandbox/by-hand.pids) 2>/dev/null; rm -f /run/vpcctl-sandbox/by-hand.pids; sleep 0.1");
    }

    /// The body `curl` fetched from the sandbox's host namespace.
    pub fn curl_host(&self, url: &str) -> Option<String> {
        let out = self.sh(&format!("curl -s -m 2 {url}"));
        out.ok().then_some(out.stdout)
    }

    /// No ping gets through, whatever the host's FORWARD policy: isolation
    /// is ours, not the host's. Leaves the policy DROP.
    pub fn isolated(&self, ns: &str, ip: &str) -> bool {
        let mut blocked = true;
        for policy in ["ACCEPT", "DROP"] {
            self.ok(&format!("iptables -w -P FORWARD {policy}"));
            blocked &= !self.ping(ns, ip);
        }
        blocked
    }

    /// The live ruleset without iptables-save's timestamp comments.
    pub fn rules(&self) -> String {
        self.ok("iptables-save | grep -v '^#'")
    }

    /// Processes (ip, iptables, iptables-restore, iptables-save, and the
    /// ebtables ones) that one
    /// vpcctl call spawns, counted by shims first on PATH.
    pub fn count(&self, args: &str) -> usize {
        const SHIMS: &str = r#"
mkdir -p /run/vpcctl-sandbox/count
for p in ip bridge iptables iptables-restore iptables-save ebtables-restore ebtables-save; do
  [ -x /run/vpcctl-sandbox/count/$p ] && continue
  real=$(command -v $p)
  printf '#!/bin/sh\necho %s >> /run/vpcctl-sandbox/count/log\nexec %s "$@"\n' "$p" "$real" > /run/vpcctl-sandbox/count/$p
  chmod +x /run/vpcctl-sandbox/count/$p
done
"#;
        self.ok(SHIMS);
        let out = self.ok(&format!(
            ": > /run/vpcctl-sandbox/count/log; PATH=/run/vpcctl-sandbox/count:$PATH $VPCCTL -q {args} >/dev/null; wc -l < /run/vpcctl-sandbox/count/log"
        ));
        out.trim().parse().unwrap()
    }

    /// Write `text` to a file in the sandbox's private scratch; returns its path.
    pub fn file(&self, name: &str, text: &str) -> String {
        let path = format!("/run/vpcctl-sandbox/{name}");
        self.ok(&format!("mkdir -p \"$(dirname {path})\"; cat > {path} <<'VPCCTL_EOF'\n{text}\nVPCCTL_EOF"));
        path
    }

    /// The app's own process under the recorded `pid` (vpcctl app-init):
    /// its PID namespace's init's child.
    pub fn app_process(&self, pid: impl std::fmt::Display) -> u64 {
        let child = |p: &str| self.ok(&format!("cat /proc/{p}/task/{p}/children")).split_whitespace().next().unwrap_or("").to_string();
        let init = child(&pid.to_string());
        child(&init).parse().unwrap_or_else(|_| panic!("no app process under {pid}"))
    }

    pub fn state_json(&self) -> String {
        self.sh("cat /var/lib/vpcctl/state.json 2>/dev/null").stdout
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // --kill-child: killing unshare takes the whole sandbox with it.
        let _ = self.holder.kill();
        let _ = self.holder.wait();
        // The cgroup hierarchy is the machine's: the cgroups of apps that
        // died with the sandbox go too, once their processes are gone.
        let Some(root) = cgroup2_root() else { return };
        let dir = root.join("vpcctl.apps").join(self.netns.to_string());
        for _ in 0..100 {
            if let Ok(apps) = std::fs::read_dir(&dir) {
                apps.flatten().for_each(|a| drop(std::fs::remove_dir(a.path())));
            }
            if std::fs::remove_dir(&dir).is_ok() || !dir.exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let _ = std::fs::remove_dir(root.join("vpcctl.apps"));
    }
}

/// Where this process sees cgroup v2 (the last cgroup2 mount of
/// /proc/self/mountinfo).
fn cgroup2_root() -> Option<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    info.lines()
        .filter(|l| l.split_once(" - ").is_some_and(|(_, t)| t.starts_with("cgroup2 ")))
        .filter_map(|l| l.split_whitespace().nth(4).map(PathBuf::from))
        .next_back()
}

/// The first child of `parent`, from /proc/*/stat.
fn child_of(parent: u32) -> Option<u32> {
    for _ in 0..100 {
        for entry in std::fs::read_dir("/proc").ok()?.flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
            // "pid (comm) state ppid ..."; comm may hold spaces, so split after ')'.
            let ppid = stat.rsplit(')').next().and_then(|r| r.split_whitespace().nth(1)).and_then(|p| p.parse().ok());
            if ppid == Some(parent) {
                return Some(pid);
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    None
}

/// Pin a JSON shape: compare `value` (volatile fields blanked) with
/// tests/golden/NAME.json. `scripts/update-golden.sh` writes the files (a
/// run with UPDATE_GOLDEN=1 fails as soon as it writes one, so a run that
/// changed a golden is never taken for a pass; the script runs again until
/// nothing changes); a change to a shape is then a reviewed diff of that file.
pub fn golden(name: &str, value: &serde_json::Value) {
    fn blank(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m.iter_mut() {
                    if ["pid", "how"].contains(&k.as_str()) {
                        *x = serde_json::json!("<varies>");
                    } else {
                        blank(x);
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(blank),
            serde_json::Value::String(s) => {
                // The test binary's path depends on where the checkout is.
                if s.contains(BIN) {
                    *s = s.replace(BIN, "<vpcctl>");
                }
                // App PIDs appear inside analyzer sentences too.
                if let Some(i) = s.find("(pid ")
                    && let Some(j) = s[i..].find(')')
                {
                    s.replace_range(i..i + j + 1, "(pid N)");
                }
            }
            _ => {}
        }
    }
    let mut v = value.clone();
    blank(&mut v);
    let text = serde_json::to_string_pretty(&v).unwrap() + "\n";
    let path = repo().join("tests/golden").join(format!("{name}.json"));
    if std::env::var("UPDATE_GOLDEN").is_ok_and(|x| x == "1") {
        let old = std::fs::read_to_string(&path).unwrap_or_default();
        if old != text {
            std::fs::write(&path, &text).unwrap();
            panic!("UPDATE_GOLDEN=1: wrote {}; review `git diff tests/golden`, then run the tests without it", path.display());
        }
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{} is missing; run scripts/update-golden.sh to write it, then review it", path.display()));
    assert_eq!(text, want, "the JSON shape of {name} changed; if that is meant, run scripts/update-golden.sh and review the diff");
}

/// Simulated hosts (see scripts/hosts.sh): network namespaces host1..hostN
/// on the bridge underlay0 (192.0.2.11..), which the fake internet joins
/// as 192.0.2.1; each host has its own state dir.
impl Sandbox {
    pub fn hosts(&self, n: usize) {
        self.ok(&format!("source {}/scripts/hosts.sh; add_hosts {n}", repo().display()));
    }

    /// vpcctl on `host`, with that host's state dir.
    pub fn on(&self, host: &str, args: &[&str]) -> Out {
        let dir = format!("/run/vpcctl-sandbox/{host}");
        let out = self
            .cmd()
            .args(["nsenter", &format!("--net=/run/netns/{host}"), "--", BIN, "--state-dir", &dir])
            .args(args)
            .output()
            .expect("nsenter");
        let o = Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        assert!(!o.stderr.contains("panicked"), "vpcctl on {host} panicked: {args:?}\n{o:?}");
        o
    }

    /// vpcctl on `host` that must succeed; returns stdout.
    pub fn v_on(&self, host: &str, args: &[&str]) -> String {
        let out = self.on(host, args);
        assert!(out.ok(), "vpcctl on {host} {args:?} failed\n{out:?}");
        out.stdout
    }

    /// A script in `host`'s network namespace.
    pub fn sh_on(&self, host: &str, script: &str) -> Out {
        self.sh(&format!("nsenter --net=/run/netns/{host} bash -c {}", shell_quote(script)))
    }

    /// What "the host as found" means for one simulated host.
    pub fn host_snapshot(&self, host: &str) -> String {
        let out = self.sh_on(
            host,
            "for t in filter nat mangle raw; do iptables -w -t $t -S; done
             echo '--- bridge family'; ebtables -L
             echo '--- links'; ip -o link | awk '{print $2}' | sort
             echo '--- addrs'; ip -4 -o addr | awk '{print $2, $4}' | sort
             echo '--- routes'; ip -4 route show table all | sort
             echo '--- rules'; ip rule
             echo '--- forwarding'; cat /proc/sys/net/ipv4/ip_forward",
        );
        assert!(out.ok(), "snapshot of {host}\n{out:?}");
        out.stdout
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}
