//! The only code that executes a plan. One process per step, at most.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::host::{self, resolve, RunError};
use crate::plan::iproute;
use crate::plan::{Plan, Step};

#[derive(Debug, Clone, Copy)]
pub struct Runner {
    /// Echo each step as a shell snippet before running it (-v).
    pub echo: bool,
}

impl Runner {
    /// Run every step in order. A strict step that fails stops the run
    /// (`Err`); tolerant (teardown) steps keep going, and their real errors
    /// ("already gone" is not one) come back in `Ok`.
    pub fn apply(&self, plan: &Plan) -> Result<Vec<RunError>, RunError> {
        let mut soft = vec![];
        for step in &plan.steps {
            soft.extend(self.run_step(step)?);
        }
        Ok(soft)
    }

    fn run_step(&self, step: &Step) -> Result<Vec<RunError>, RunError> {
        if self.echo {
            tracing::info!("run:\n{}", step.to_script().trim_end());
        }
        let Some((prog, args)) = step.command() else {
            let Step::Sysctl { key, value } = step else { unreachable!() };
            host::write_sysctl(key, value).map_err(|source| RunError::Sysctl { key: key.clone(), source })?;
            return Ok(vec![]);
        };
        let path = resolve(prog)?;
        let mut child = Command::new(&path)
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| RunError::Spawn { prog: prog.to_string(), source })?;
        let input = step.stdin_text();
        // A failed write means the process already exited; its status says why.
        let _ = child.stdin.take().expect("piped stdin").write_all(input.as_bytes());
        let out = child.wait_with_output().map_err(|source| RunError::Spawn { prog: prog.to_string(), source })?;
        if out.status.success() {
            return Ok(vec![]);
        }
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let command = format!("{prog} {}", args.join(" "));
        let tolerant = matches!(step, Step::Ip(b) if b.tolerant);
        if tolerant {
            let real: Vec<&str> = stderr
                .lines()
                .filter(|l| !l.starts_with("Command failed") && !iproute::is_already_gone(l) && !l.trim().is_empty())
                .collect();
            return Ok(if real.is_empty() {
                vec![]
            } else {
                vec![RunError::Failed { command, status: out.status.to_string(), detail: real.join("\n") }]
            });
        }
        Err(RunError::Failed { command, status: out.status.to_string(), detail: explain(step, &stderr) })
    }
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
