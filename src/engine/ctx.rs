//! How a command runs: where state lives, whether it is a dry run, how it
//! prints, and the probes every change makes of our base jumps.

use std::path::PathBuf;

use anyhow::Result;

use crate::cli::Output;
use crate::kernel::host;
use crate::kernel::host::RunError;
use crate::kernel::runner::Runner;
use crate::model::State;
use crate::plan::Plan;
use crate::plan::firewall::{self, BaseJump, BasePresence, BridgeChains, OtherDirs};
use crate::plan::iptables::same_rules;
use crate::plan::spoof;
use crate::state::Store;

pub struct Ctx {
    pub state_dir: PathBuf,
    pub dry_run: bool,
    /// Structured output (`-o json` or `-o yaml`): no sentences on stdout.
    pub json: bool,
    pub output: Output,
    pub quiet: bool,
    pub runner: Runner,
    /// Dry runs print one script; this tells whether its header is out.
    printed_header: std::cell::Cell<bool>,
}

impl Ctx {
    pub fn new(state_dir: PathBuf, dry_run: bool, output: Output, quiet: bool, echo: bool) -> Self {
        let json = matches!(output, Output::Json | Output::Yaml);
        Ctx { state_dir, dry_run, json, output, quiet, runner: Runner { echo }, printed_header: Default::default() }
    }

    /// A structured result on stdout: pretty JSON, or YAML with `-o yaml`.
    pub fn doc(&self, value: &(impl serde::Serialize + ?Sized)) -> Result<()> {
        if self.output == Output::Yaml {
            out!("{}", serde_norway::to_string(value)?);
        } else {
            outln!("{}", serde_json::to_string_pretty(value)?);
        }
        Ok(())
    }

    /// `doc`, on one line for JSON (a command's outcome, one object per run).
    pub fn doc_line(&self, value: &(impl serde::Serialize + ?Sized)) -> Result<()> {
        if self.output == Output::Yaml {
            return self.doc(value);
        }
        outln!("{}", serde_json::to_string(value)?);
        Ok(())
    }

    /// A store for a command that changes things. Dry runs take no lock
    /// and create nothing.
    pub fn open(&self) -> Result<Store> {
        if self.dry_run {
            return Ok(Store::open_readonly(&self.state_dir));
        }
        require_root()?;
        Ok(Store::open_locked(&self.state_dir)?)
    }

    /// A human message on stdout (stderr during a dry run, whose stdout is
    /// the script).
    pub fn say(&self, msg: impl AsRef<str>) {
        if self.quiet || self.json {
            return;
        }
        if self.dry_run {
            errln!("{}", msg.as_ref());
        } else {
            outln!("{}", msg.as_ref());
        }
    }

    /// Outcome of a changing command: a sentence, or with --json an object.
    pub fn report(&self, msg: impl AsRef<str>, json: serde_json::Value) {
        if self.json && !self.dry_run {
            let _ = self.doc_line(&json);
        } else if self.dry_run {
            self.say(would(msg.as_ref()));
        } else {
            self.say(msg);
        }
    }

    /// Run a plan, or print it for a dry run. `Ok` carries the errors of
    /// tolerant (teardown) steps, which do not stop the run.
    pub fn apply(&self, plan: &Plan) -> Result<Vec<RunError>, RunError> {
        if self.dry_run {
            self.print_script(plan);
            return Ok(vec![]);
        }
        self.runner.apply(plan)
    }

    pub fn print_script(&self, plan: &Plan) {
        self.print_header();
        out!("{}", plan.to_script());
    }

    /// The dry-run script's first lines, once, before anything else it prints.
    pub fn print_header(&self) {
        if !self.printed_header.replace(true) {
            outln!("#!/bin/sh\n# vpcctl --dry-run: the commands vpcctl would run\nset -e");
        }
    }

    /// Where our jumps from the built-in chains are, and whether other
    /// state dirs are active. Every change that touches the kernel checks
    /// the iptables jumps (a missing one is put back by the plan); the
    /// bridge family's only when the first VPC comes or the last goes, or
    /// after an unfinished run. Dry runs assume state is right.
    pub fn base_presence(&self, before: &State, after: &State) -> Result<(BasePresence, OtherDirs, Option<BridgeChains>)> {
        let mut base = BasePresence::implied_by(before);
        if self.dry_run || (before.vpcs.is_empty() && after.vpcs.is_empty()) {
            return Ok((base, OtherDirs::default(), None));
        }
        // The jumps as the record says they were made. The probes are
        // independent processes: run them side by side.
        let made = if before.vpcs.is_empty() { after } else { before };
        let forward = BaseJump::filter(made);
        let nat = [before, after].iter().any(|s| firewall::uses_nat(s) || crate::plan::expose::in_use(s));
        let bridge = before.vpcs.is_empty() != after.vpcs.is_empty() || before.host.in_progress;
        // One listing of the filter table answers for both of its jumps.
        let (filter, nat_jump, saved) = std::thread::scope(|s| {
            let nat_jump = nat.then(|| s.spawn(|| host::list_rules("nat", "")));
            let saved = bridge.then(|| s.spawn(host::ebtables_save));
            let filter = host::list_rules("filter", "");
            (filter, nat_jump.map(|h| h.join().expect("probe thread")), saved.map(|h| h.join().expect("probe thread")))
        });
        let filter = filter?;
        let present = |j: &BaseJump| filter.iter().any(|r| same_rules(&[r.as_str()], &[j.saved().as_str()]));
        base.filter = present(&forward);
        base.input = present(&BaseJump::input(made));
        let rules: Vec<String> = filter.iter().filter(|r| r.starts_with("-A FORWARD ")).cloned().collect();
        let others = firewall::other_dirs(&rules, &forward.chain);
        if let Some(rules) = nat_jump {
            // One listing of the nat table answers for all three jumps.
            let rules = rules?;
            let present = |j: BaseJump| rules.iter().any(|r| same_rules(&[r.as_str()], &[j.saved().as_str()]));
            base.nat = present(BaseJump::nat(made));
            base.prerouting = present(BaseJump::prerouting(made));
            base.output = present(BaseJump::output(made));
        }
        let mut chains = None;
        if let Some(saved) = saved {
            let saved = saved?;
            base.bridge = spoof::saved_jumps(made).iter().all(|j| saved.lines().any(|l| l.trim() == j));
            let declared = saved.lines().filter_map(|l| l.strip_prefix(':')?.split_whitespace().next().map(String::from));
            chains = Some(declared.collect());
        }
        Ok((base, others, chains))
    }
}

/// A non-empty list of errors from teardown, as one typed error.
pub fn collect_errors(what: &str, errors: Vec<RunError>) -> Result<()> {
    if errors.is_empty() {
        return Ok(());
    }
    Err(anyhow::Error::new(host::ErrorList(errors)).context(format!(
        "{what} did not finish (state still records what may remain: fix the cause and run the same command again, or see 'vpcctl doctor')"
    )))
}

/// A command's outcome, told of a dry run: what it would do, not what it did.
fn would(msg: &str) -> String {
    const VERBS: [(&str, &str); 5] = [
        ("deleted ", "would delete "),
        ("created ", "would create "),
        ("stopped ", "would stop "),
        ("repaired ", "would repair "),
        ("nothing ", "nothing "),
    ];
    for (done, todo) in VERBS {
        if let Some(rest) = msg.strip_prefix(done) {
            return format!("dry run, nothing changed: {todo}{rest}");
        }
    }
    format!("dry run, nothing changed; after the script: {msg}")
}

pub fn require_root() -> Result<()> {
    if !host::is_root() {
        return Err(crate::error::NeedsRoot(
            "vpcctl changes network namespaces, links and iptables, so it must run as root (try: sudo vpcctl ...); use --dry-run to see what it would do".into(),
        )
        .into());
    }
    Ok(())
}
