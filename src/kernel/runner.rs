//! The only code that executes a plan. One process per step, at most.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::kernel::host::{self, RunError, resolve};
use crate::plan::iproute;
use crate::plan::{Plan, Step};

#[derive(Debug, Clone, Copy)]
pub struct Runner {
    /// Echo each step as a shell snippet before running it (-v).
    pub echo: bool,
}

/// How many steps of one stage run at once: enough to hide process start-up,
/// few enough not to flood a small host (a 400-subnet apply has 400
/// namespace batches in one stage).
const PARALLEL: usize = 8;

impl Runner {
    /// Run every step, stage by stage (see `stages`); the steps of a stage
    /// run side by side. A strict step that fails stops the run once its
    /// stage ends (`Err`); tolerant (teardown) steps keep going, and their
    /// errors ("already gone" is not one) come back in `Ok`.
    pub fn apply(&self, plan: &Plan) -> Result<Vec<RunError>, RunError> {
        let mut soft = vec![];
        for stage in stages(&plan.steps) {
            for chunk in stage.chunks(PARALLEL) {
                let results: Vec<(&Step, Result<(), RunError>)> = if chunk.len() == 1 {
                    vec![(chunk[0], self.run_step(chunk[0]))]
                } else {
                    std::thread::scope(|s| {
                        let handles: Vec<_> = chunk.iter().map(|step| (*step, s.spawn(move || self.run_step(step)))).collect();
                        handles.into_iter().map(|(step, h)| (step, h.join().expect("step thread"))).collect()
                    })
                };
                let mut hard = None;
                for (step, r) in results {
                    match r {
                        Ok(()) => {}
                        Err(e) if step.is_tolerant() => soft.push(e),
                        Err(e) => hard = hard.or(Some(e)),
                    }
                }
                if let Some(e) = hard {
                    return Err(e);
                }
            }
        }
        Ok(soft)
    }

    fn run_step(&self, step: &Step) -> Result<(), RunError> {
        if self.echo {
            tracing::info!("run:\n{}", step.to_script().trim_end());
        }
        let Some((prog, args)) = step.command() else {
            return match step {
                Step::Sysctl { netns, key, value } => {
                    host::write_sysctl_in(netns.as_deref(), key, value).map_err(|err| RunError::Sysctl { key: key.clone(), err })
                }
                Step::File { path, content, readers } => {
                    write_file(path, content.as_deref(), *readers).map_err(|err| RunError::File { path: path.clone(), err })
                }
                _ => unreachable!("every other step runs a process"),
            };
        };
        // Inside a namespace, iptables-restore is spawned from a thread that
        // joined it: what `ip netns exec` does, one process fewer.
        if let Step::Iptables(r) = step
            && let Some(ns) = &r.netns
        {
            return self.run_in_netns(step, ns);
        }
        self.run_process(step, prog, &args)
    }

    fn run_in_netns(&self, step: &Step, ns: &str) -> Result<(), RunError> {
        let spawn_err = |err| RunError::Spawn { prog: "iptables-restore".into(), err };
        let file = std::fs::File::open(std::path::Path::new("/run/netns").join(ns)).map_err(spawn_err)?;
        let args = ["--noflush".to_string(), "-w".to_string()];
        std::thread::scope(|s| {
            s.spawn(|| {
                use std::os::fd::AsRawFd;
                // SAFETY: setns on a namespace fd we hold; affects this thread only.
                if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                    return Err(spawn_err(std::io::Error::last_os_error()));
                }
                // Errors name the namespace, as `ip netns exec` would have.
                self.run_process(step, "iptables-restore", &args).map_err(|e| match e {
                    RunError::Failed { command, status, detail } => {
                        RunError::Failed { command: format!("ip netns exec {ns} {command}"), status, detail }
                    }
                    other => other,
                })
            })
            .join()
            .unwrap_or_else(|_| Err(spawn_err(std::io::Error::other("step thread panicked"))))
        })
    }

    fn run_process(&self, step: &Step, prog: &'static str, args: &[String]) -> Result<(), RunError> {
        let path = resolve(prog)?;
        let spawn_err = |err| RunError::Spawn { prog: prog.to_string(), err };
        let mut child =
            Command::new(&path).args(args).stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().map_err(spawn_err)?;
        let stdin = child.stdin.take().ok_or_else(|| spawn_err(std::io::Error::other("no stdin pipe")))?;
        let writer = feed(stdin, step.stdin_text());
        let out = child.wait_with_output().map_err(spawn_err)?;
        // A failed write means the child exited early; its status says why.
        let _ = writer.join();
        if out.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let command = format!("{prog} {}", args.join(" "));
        let detail = if step.is_tolerant() {
            let real: Vec<&str> = stderr
                .lines()
                .filter(|l| !l.starts_with("Command failed") && !iproute::is_already_gone(l) && !l.trim().is_empty())
                .collect();
            if real.is_empty() {
                return Ok(());
            }
            real.join("\n")
        } else {
            explain(step, &stderr)
        };
        Err(RunError::Failed { command, status: out.status.to_string(), detail })
    }
}

/// What a step needs before it can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Needs {
    /// Host netfilter (iptables, ebtables): names interfaces as strings,
    /// so it needs no link to exist; it runs beside anything.
    Nothing,
    /// A root `ip` batch: makes (or removes) the links and namespaces the
    /// next steps use.
    Root,
    /// Inside a namespace, or a bridge port's FDB: needs the root batch
    /// before it, and nothing from its neighbours.
    Links,
    /// Files and sysctls: in order, alone. Teardown batches too: the
    /// rules of what goes are removed only once it is gone, so no process
    /// left in a dying namespace has a moment without them.
    Alone,
}

fn needs(step: &Step) -> Needs {
    match step {
        Step::Iptables(r) | Step::Ebtables(r) if r.netns.is_none() => Needs::Nothing,
        Step::Ip(b) if b.netns.is_none() && b.tolerant => Needs::Alone,
        Step::Ip(b) if b.netns.is_none() => Needs::Root,
        Step::Bridge(b) if b.tolerant => Needs::Alone,
        Step::Ip(_) | Step::Iptables(_) | Step::Bridge(_) => Needs::Links,
        // Inside a namespace (a NAT gateway's forwarding): like its batch.
        Step::Sysctl { netns: Some(_), .. } => Needs::Links,
        _ => Needs::Alone,
    }
}

/// The plan's steps in stages whose steps do not depend on each other:
/// host netfilter steps join any stage; a stage holds at most one root
/// batch, or any number of steps that only need links made earlier. A new
/// subnet is then two stages (firewall + root batch; FDB + namespace),
/// not four steps one after another.
fn stages(steps: &[Step]) -> Vec<Vec<&Step>> {
    let mut out: Vec<Vec<&Step>> = vec![];
    for step in steps {
        let n = needs(step);
        let fits = out.last().is_some_and(|stage| {
            let others: Vec<Needs> = stage.iter().map(|s| needs(s)).filter(|k| *k != Needs::Nothing).collect();
            match n {
                Needs::Nothing => !others.contains(&Needs::Alone),
                Needs::Root => others.is_empty(),
                // Two steps in one namespace keep their order.
                Needs::Links => others.iter().all(|k| *k == Needs::Links) && !stage.iter().any(|s| same_place(s, step)),
                Needs::Alone => false,
            }
        });
        match out.last_mut() {
            Some(stage) if fits => stage.push(step),
            _ => out.push(vec![step]),
        }
    }
    out
}

/// Whether two steps of one kind act in the same place (a namespace, or
/// the host's FDB): those keep their order. A namespace's ip and iptables
/// steps are independent of each other.
fn same_place(a: &Step, b: &Step) -> bool {
    fn place(s: &Step) -> Option<(u8, Option<&str>)> {
        match s {
            Step::Ip(x) => Some((0, x.netns.as_deref())),
            Step::Bridge(x) => Some((1, x.netns.as_deref())),
            Step::Iptables(r) => Some((2, r.netns.as_deref())),
            _ => None,
        }
    }
    place(a).is_some() && place(a) == place(b)
}

/// Write `text` to `path` whole (see `files::write_atomic`), readable as
/// `readers` says. `None` removes the file, and its directory once empty.
fn write_file(path: &std::path::Path, text: Option<&str>, readers: crate::plan::Readers) -> std::io::Result<()> {
    use crate::plan::Readers;
    let dir = path.parent().ok_or_else(|| std::io::Error::other("a file path without a directory"))?;
    let Some(text) = text else {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let _ = std::fs::remove_dir(dir);
        return Ok(());
    };
    match readers {
        Readers::All => {
            crate::kernel::files::dir(dir, 0o755)?;
            crate::kernel::files::write_atomic(path, text.as_bytes(), 0o644, None)
        }
        Readers::Resolver => {
            let gid = crate::helpers::resolver::own_hosts_dir(dir)?;
            crate::kernel::files::write_atomic(path, text.as_bytes(), 0o640, Some(gid))
        }
    }
}

/// Write a child's input from a thread, so that a child that fills its
/// stderr before reading cannot deadlock us. One that exits early cannot
/// kill us either: SIGPIPE is ignored (see `out`), so the write fails with
/// EPIPE and the child's exit status tells what went wrong.
fn feed(mut stdin: std::process::ChildStdin, input: String) -> std::thread::JoinHandle<std::io::Result<()>> {
    std::thread::spawn(move || stdin.write_all(input.as_bytes()))
}

/// Point at the offending input line, since "line 7 failed" alone is useless.
fn explain(step: &Step, stderr: &str) -> String {
    let input = step.stdin_text();
    let lines: Vec<&str> = input.lines().collect();
    let mut detail = stderr.trim_end().to_string();
    for l in stderr.lines() {
        // ip: "Command failed -:3"; iptables-restore: "line 3 failed" / "Error occurred at line: 3"
        let n = l
            .strip_prefix("Command failed -:")
            .or_else(|| l.strip_prefix("Error occurred at line: "))
            .or_else(|| l.split("line ").nth(1).and_then(|r| r.split_whitespace().next()))
            .and_then(|n| n.trim().parse::<usize>().ok());
        if let Some(line) = n.and_then(|n| lines.get(n.wrapping_sub(1))) {
            detail.push_str(&format!("\n  offending line: {line}"));
            break;
        }
    }
    detail
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Restore, TableEdit};

    fn kinds(steps: &[Step]) -> Vec<Vec<String>> {
        stages(steps)
            .iter()
            .map(|st| st.iter().map(|s| s.command().map(|(p, a)| format!("{p} {}", a.join(" "))).unwrap_or("file".into())).collect())
            .collect()
    }

    #[test]
    fn a_new_subnet_runs_in_two_stages_and_order_is_kept_where_it_matters() {
        let fw = |netns: Option<&str>| {
            Step::Iptables(Restore { netns: netns.map(String::from), tables: vec![TableEdit { table: "filter", lines: vec!["x".into()] }] })
        };
        let eb = Step::Ebtables(Restore { netns: None, tables: vec![TableEdit { table: "filter", lines: vec!["x".into()] }] });
        let root = Step::ip(None, vec!["link add x".into()]);
        let fdb = Step::Bridge(crate::plan::IpBatch { netns: None, lines: vec!["fdb replace".into()], tolerant: false });
        let ns = |n: &str| Step::ip(Some(n), vec!["addr add".into()]);
        let got = kinds(&[eb.clone(), root.clone(), fdb.clone(), ns("a"), fw(Some("a")), ns("b")]);
        assert_eq!(got.iter().map(Vec::len).collect::<Vec<_>>(), [2, 4], "{got:?}");
        // Teardown runs alone (its rules go after it); two batches in one
        // namespace keep their order; a file waits for what came before.
        let teardown = Step::ip_tolerant(None, vec!["link del y".into()]);
        let file = Step::File { path: "/x".into(), content: None, readers: crate::plan::Readers::All };
        let got = kinds(&[teardown, fw(None), root, ns("a"), ns("a"), file, eb]);
        assert_eq!(got.iter().map(Vec::len).collect::<Vec<_>>(), [1, 2, 1, 1, 1, 1], "{got:?}");
    }
}
