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

impl Runner {
    /// Run every step in order. A strict step that fails stops the run
    /// (`Err`); tolerant (teardown) steps keep going, and their errors
    /// ("already gone" is not one) come back in `Ok`.
    pub fn apply(&self, plan: &Plan) -> Result<Vec<RunError>, RunError> {
        let mut soft = vec![];
        for step in &plan.steps {
            match self.run_step(step) {
                Ok(()) => {}
                Err(e) if step.is_tolerant() => soft.push(e),
                Err(e) => return Err(e),
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
                Step::Sysctl { key, value } => host::write_sysctl(key, value).map_err(|err| RunError::Sysctl { key: key.clone(), err }),
                Step::File { path, content, readers } => {
                    write_file(path, content.as_deref(), *readers).map_err(|err| RunError::File { path: path.clone(), err })
                }
                _ => unreachable!("every other step runs a process"),
            };
        };
        let path = resolve(prog)?;
        let spawn_err = |err| RunError::Spawn { prog: prog.to_string(), err };
        let mut child = Command::new(&path)
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(spawn_err)?;
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
