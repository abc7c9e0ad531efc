//! Plans: what a command will do to the kernel, as plain data.
//!
//! Planners (one module per feature) are pure functions of the recorded
//! state and the request; the runner is the only code that executes steps.
//! A plan renders to a shell script that does exactly what the runner does,
//! which is what `--dry-run` prints and `-v` echoes.

pub mod diff;
pub mod dns;
pub mod expose;
pub mod firewall;
pub mod flow;
pub mod instance;
pub mod iproute;
pub mod iptables;
pub mod nacl;
pub mod nat;
pub mod overlay;
pub mod peering;
pub mod policy;
pub mod repair;
pub mod routes;
pub mod spoof;
pub mod subnet;
pub mod vpc;
pub mod wireguard;

use std::fmt::Write as _;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// One `ip -batch` process, in the root namespace or inside `netns`.
    Ip(IpBatch),
    /// One `bridge -batch` process (static FDB entries), root namespace.
    Bridge(IpBatch),
    /// One `iptables-restore --noflush` process covering several tables.
    Iptables(Restore),
    /// One `ebtables-restore --noflush` process (the bridge family).
    Ebtables(Restore),
    /// A write under /proc/sys (no process needed), in the root namespace
    /// or inside `netns`.
    Sysctl { netns: Option<String>, key: String, value: String },
    /// `wg ARGS`: WireGuard's settings (keys are passed as file paths).
    Wg(Vec<String>),
    /// A file of ours written whole (atomically), or removed with its
    /// directory once empty (`None`). No process needed.
    File { path: std::path::PathBuf, content: Option<String>, readers: Readers },
}

/// Who may read a file of ours besides root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readers {
    /// 0644 in a 0755 directory (a namespace's resolv.conf: every process
    /// in the subnet reads it).
    All,
    /// 0640 in a 0750 directory, group the resolver's (a VPC's hosts file:
    /// which subnets exist is no business of any other user).
    Resolver,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpBatch {
    pub netns: Option<String>,
    pub lines: Vec<String>,
    /// Teardown: keep going past errors, and treat "already gone" as done.
    pub tolerant: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restore {
    pub netns: Option<String>,
    pub tables: Vec<TableEdit>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableEdit {
    pub table: &'static str,
    pub lines: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub steps: Vec<Step>,
}

impl Plan {
    pub fn push(&mut self, step: Step) {
        let empty = match &step {
            Step::Ip(b) | Step::Bridge(b) => b.lines.is_empty(),
            Step::Iptables(r) | Step::Ebtables(r) => r.tables.iter().all(|t| t.lines.is_empty()),
            Step::Sysctl { .. } | Step::File { .. } | Step::Wg(_) => false,
        };
        if !empty {
            self.steps.push(step);
        }
    }

    pub fn extend(&mut self, other: Plan) {
        self.steps.extend(other.steps);
    }

    /// A runnable POSIX shell script.
    pub fn to_script(&self) -> String {
        let mut out = String::new();
        for step in &self.steps {
            out.push_str(&step.to_script());
        }
        out
    }
}

impl Step {
    pub fn ip(netns: Option<&str>, lines: Vec<String>) -> Step {
        Step::Ip(IpBatch { netns: netns.map(str::to_string), lines, tolerant: false })
    }

    pub fn ip_tolerant(netns: Option<&str>, lines: Vec<String>) -> Step {
        Step::Ip(IpBatch { netns: netns.map(str::to_string), lines, tolerant: true })
    }

    /// Teardown: keeps going past errors, "already gone" is success.
    pub fn is_tolerant(&self) -> bool {
        matches!(self, Step::Ip(b) | Step::Bridge(b) if b.tolerant)
    }

    /// The process to run: program and arguments (stdin is `stdin_text`).
    pub fn command(&self) -> Option<(&'static str, Vec<String>)> {
        match self {
            Step::Ip(b) => {
                let mut args = vec![];
                if let Some(ns) = &b.netns {
                    args.extend(["-n".to_string(), ns.clone()]);
                }
                if b.tolerant {
                    args.push("-force".into());
                }
                args.extend(["-batch".to_string(), "-".to_string()]);
                Some(("ip", args))
            }
            Step::Wg(args) => Some(("wg", args.clone())),
            Step::Iptables(r) => {
                let mut args = vec![];
                if let Some(ns) = &r.netns {
                    args.extend(["netns".into(), "exec".into(), ns.clone()]);
                    args.extend(["iptables-restore".into(), "--noflush".into(), "-w".into()]);
                    return Some(("ip", args));
                }
                args.extend(["--noflush".to_string(), "-w".to_string()]);
                Some(("iptables-restore", args))
            }
            Step::Bridge(b) if b.tolerant => Some(("bridge", vec!["-force".into(), "-batch".into(), "-".into()])),
            Step::Bridge(_) => Some(("bridge", vec!["-batch".to_string(), "-".to_string()])),
            Step::Ebtables(_) => Some(("ebtables-restore", vec!["--noflush".to_string()])),
            Step::Sysctl { .. } | Step::File { .. } => None,
        }
    }

    pub fn stdin_text(&self) -> String {
        match self {
            Step::Ip(b) | Step::Bridge(b) => b.lines.iter().map(|l| format!("{l}\n")).collect(),
            Step::Iptables(r) | Step::Ebtables(r) => {
                let mut s = String::new();
                for t in r.tables.iter().filter(|t| !t.lines.is_empty()) {
                    let _ = writeln!(s, "*{}", t.table);
                    for l in &t.lines {
                        let _ = writeln!(s, "{l}");
                    }
                    s.push_str("COMMIT\n");
                }
                s
            }
            Step::Sysctl { .. } | Step::File { .. } | Step::Wg(_) => String::new(),
        }
    }

    pub fn to_script(&self) -> String {
        match self {
            Step::Sysctl { netns: None, key, value } => {
                format!("echo {value} > /proc/sys/{}\n", key.replace('.', "/"))
            }
            Step::Sysctl { netns: Some(ns), key, value } => {
                format!("ip netns exec {ns} sh -c 'echo {value} > /proc/sys/{}'\n", key.replace('.', "/"))
            }
            Step::File { path, content: Some(text), readers } => {
                let dir = path.parent().map(|d| d.display().to_string()).unwrap_or_default();
                let access = match readers {
                    Readers::All => format!("chmod 755 '{dir}'\nchmod 644 '{}'\n", path.display()),
                    Readers::Resolver => {
                        // The group is looked up when the script runs: planning reads nothing.
                        let group = format!("\"$(id -gn {} 2>/dev/null || id -gn nobody)\"", crate::model::services::DNS_USER);
                        format!("chmod 750 '{dir}'\nchgrp {group} '{dir}' '{0}'\nchmod 640 '{0}'\n", path.display())
                    }
                };
                format!("mkdir -p '{dir}'\ncat > '{}' <<'EOF'\n{text}EOF\n{access}", path.display())
            }
            Step::Wg(args) => format!("wg {}\n", args.join(" ")),
            Step::File { path, content: None, .. } => {
                let dir = path.parent().map(|d| d.display().to_string()).unwrap_or_default();
                format!("rm -f '{}'\nrmdir '{dir}' 2>/dev/null || true\n", path.display())
            }
            _ => {
                let (prog, args) = self.command().expect("process step");
                // Teardown goes on past what is already gone, as the runner does.
                let tolerate = if self.is_tolerant() { " 2>/dev/null || true" } else { "" };
                format!("{prog} {} <<'EOF'{tolerate}\n{}EOF\n", args.join(" "), self.stdin_text())
            }
        }
    }
}

/// Words quoted for sh: what a dry-run script runs is exactly what was asked.
pub fn shell_words(words: &[String]) -> String {
    words.iter().map(|w| format!("'{}'", w.replace('\'', r"'\''"))).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_runnable_heredocs() {
        let mut p = Plan::default();
        p.push(Step::ip(None, vec!["link add br-a type bridge".into()]));
        p.push(Step::ip(Some("ns-a-b"), vec![]));
        p.push(Step::Iptables(Restore { netns: None, tables: vec![TableEdit { table: "filter", lines: vec![":X - [0:0]".into()] }] }));
        p.push(Step::Sysctl { netns: None, key: "net.ipv4.ip_forward".into(), value: "1".into() });
        assert_eq!(
            p.to_script(),
            "ip -batch - <<'EOF'\nlink add br-a type bridge\nEOF\n\
             iptables-restore --noflush -w <<'EOF'\n*filter\n:X - [0:0]\nCOMMIT\nEOF\n\
             echo 1 > /proc/sys/net/ipv4/ip_forward\n"
        );
    }
}
