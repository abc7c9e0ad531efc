//! Help and man pages: commands grouped by domain, and a page per command.

use super::Cli;

/// Commands by what they are about, for `vpcctl --help` (clap lists
/// subcommands in one flat block). A test checks every visible command is
/// in exactly one group.
pub const GROUPS: &[(&str, &[&str])] = &[
    ("VPCs", &["create-vpc", "list", "inspect", "delete", "teardown-all"]),
    ("Subnets", &["add-subnet", "delete-subnet", "exec", "deploy-app", "stop-app"]),
    ("Routing", &["enable-nat", "disable-nat", "peer", "unpeer", "expose", "unexpose", "associate-eip", "disassociate-eip"]),
    ("Route tables and gateways", super::routing::ROUTE_TABLE_COMMANDS),
    ("Transit gateways", super::routing::TGW_COMMANDS),
    ("Instances and security groups", super::instances::COMMANDS),
    ("Security", &["apply-policy", "apply-nacl", "remove-nacl"]),
    ("Services", &["flow-logs"]),
    ("Topologies", &["plan", "apply", "host-key", "export", "import", "schema", "graph"]),
    ("Diagnostics", &["test-connectivity", "check", "doctor", "repair"]),
    ("Setup", &["completions", "man", "version", "help"]),
];

/// The command that parses: the derived one, with its help grouped.
pub fn command() -> clap::Command {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    // Grouping needs every subcommand built: about a millisecond, paid
    // only when the top-level help can show.
    if !help_may_show() {
        return cmd;
    }
    cmd.build();
    let width = cmd.get_subcommands().map(|s| s.get_name().len()).max().unwrap_or(0) + 2;
    let mut groups = String::new();
    for (title, names) in GROUPS {
        groups.push_str(&format!("\x1b[1m{title}:\x1b[0m\n"));
        for name in *names {
            let about = cmd.find_subcommand(name).and_then(|c| c.get_about()).map(|a| a.to_string()).unwrap_or_default();
            groups.push_str(&format!("  {name:<width$}{about}\n"));
        }
        groups.push('\n');
    }
    // Bold only where clap would colour too.
    if !crate::out::colour(&std::io::stdout()) {
        groups = groups.replace("\x1b[1m", "").replace("\x1b[0m", "");
    }
    cmd.help_template(format!("{{about-with-newline}}\n{{usage-heading}} {{usage}}\n\n{groups}Options:\n{{options}}{{after-help}}"))
}

/// Whether this run may print the top-level help: no arguments, `-h`,
/// `--help`, or `help`.
fn help_may_show() -> bool {
    let args: Vec<String> = std::env::args().skip(1).collect();
    args.is_empty()
        || args.iter().any(|a| a == "-h" || a == "--help")
        || super::subcommand_name(args.into_iter()).as_deref() == Some("help")
}

/// The man page: clap_mangen's page for vpcctl, then a COMMANDS section
/// with every subcommand's usage, options and examples.
pub fn man_page() -> std::io::Result<String> {
    use clap::CommandFactory;
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut out)?;
    let mut page = String::from_utf8_lossy(&out).into_owned();
    page.push_str(".SH COMMANDS\n");
    let mut root = Cli::command();
    root.build();
    for sub in root.get_subcommands_mut().filter(|s| !s.is_hide_set()) {
        page.push_str(&format!(".SS \"vpcctl {}\"\n", sub.get_name()));
        if let Some(about) = sub.get_about() {
            page.push_str(&format!("{}\n.PP\n", roff(&about.to_string())));
        }
        let usage = sub.render_usage().to_string();
        page.push_str(&format!(".nf\n{}\n.fi\n", roff(usage.trim())));
        for arg in sub.get_arguments().filter(|a| !a.is_hide_set() && !a.is_global_set()) {
            let name = match (arg.get_short(), arg.get_long()) {
                (Some(s), Some(l)) => format!("-{s}, --{l}"),
                (None, Some(l)) => format!("--{l}"),
                (Some(s), None) => format!("-{s}"),
                (None, None) => {
                    arg.get_value_names().map(|v| v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(" ")).unwrap_or_default()
                }
            };
            let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            page.push_str(&format!(".TP\n\\fB{}\\fR\n{}\n", roff(&name), roff(&help)));
        }
        if let Some(after) = sub.get_after_help() {
            page.push_str(&format!(".PP\n.nf\n{}\n.fi\n", roff(&after.to_string())));
        }
    }
    page.push_str(MAN_TAIL);
    Ok(page)
}

/// What every page ends with: where vpcctl keeps things, what it reads
/// from the environment, and its exit codes.
const MAN_TAIL: &str = r#".SH "EXIT STATUS"
.TP
0
success, or a positive answer (reachable; no drift; every expectation met).
.TP
1
a negative answer (unreachable; drift; an unmet expectation), or a change the user declined.
.TP
2
bad usage or input, including a change that destroys without \-\-auto\-approve.
.TP
3
a system failure (a tool failed, the state file cannot be read).
.TP
4
not root.
.PP
With \-\-detailed\-exitcode, plan exits 0 (no changes), 2 (changes) or 1 (any error).
.br
exec exits with its command's code, or 125\-127 for its own failures.
.SH ENVIRONMENT
.TP
VPCCTL_STATE_DIR
The state directory (as \-\-state\-dir; default /var/lib/vpcctl).
.TP
VPCCTL_LOG
Log filter, as RUST_LOG: info, debug, or vpcctl=debug.
.TP
VPCCTL_LOCK_TIMEOUT
Seconds a change waits for another vpcctl run (default 120).
.TP
NO_COLOR
No colour, even on a terminal.
.SH FILES
.TP
/var/lib/vpcctl/state.json
What vpcctl created, readable by all (0644); written only by root, under a lock.
.TP
/run/vpcctl/
Host locks, so two state directories on one host take turns.
.TP
/var/lib/vpcctl/apps/, /var/lib/vpcctl/dns/, /var/lib/vpcctl/flow-logs/
App logs, resolver host files, and flow records.
.SH "FILE FORMATS"
Topology (plan, apply, export), policy (apply\-policy), NACL (apply\-nacl) and
expectation (check) files are JSON or YAML. \fBvpcctl schema\fR FORMAT prints
each one's JSON Schema; examples/ in the source holds one of each.
"#;

/// One page per command (and per flow-logs subcommand), plus vpcctl.1, as
/// (file name, roff): what `man vpcctl-create-vpc` shows after install.
pub fn man_pages() -> std::io::Result<Vec<(String, String)>> {
    use clap::CommandFactory;
    let mut root = Cli::command();
    root.build();
    let mut pages: Vec<(String, clap::Command)> = vec![];
    let shown = |s: &&clap::Command| !s.is_hide_set() && s.get_name() != "help";
    for sub in root.get_subcommands().filter(shown) {
        pages.push((format!("vpcctl-{}", sub.get_name()), sub.clone()));
        for nested in sub.get_subcommands().filter(shown) {
            pages.push((format!("vpcctl-{}-{}", sub.get_name(), nested.get_name()), nested.clone()));
        }
    }
    let mut out = vec![("vpcctl.1".to_string(), man_page()?)];
    for (name, cmd) in pages {
        let mut roff = Vec::new();
        let cmd = cmd.name(name.clone()).bin_name(name.replacen('-', " ", 1));
        clap_mangen::Man::new(cmd).title(name.to_uppercase()).render(&mut roff)?;
        let mut page = String::from_utf8_lossy(&roff).into_owned();
        page.push_str(MAN_TAIL);
        page.push_str(".SH \"SEE ALSO\"\nvpcctl(1)\n");
        out.push((format!("{name}.1"), page));
    }
    Ok(out)
}

/// Text safe inside roff: backslashes and hyphens escaped, no line starting
/// with a control character.
fn roff(text: &str) -> String {
    text.replace('\\', "\\e")
        .replace('-', "\\-")
        .lines()
        .map(|l| if l.starts_with('.') || l.starts_with('\'') { format!("\\&{l}") } else { l.to_string() })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_visible_command_is_in_exactly_one_group() {
        use clap::CommandFactory;
        let mut root = Cli::command();
        root.build();
        let visible: Vec<&str> = root.get_subcommands().filter(|c| !c.is_hide_set()).map(|c| c.get_name()).collect();
        for name in &visible {
            let n = GROUPS.iter().filter(|(_, names)| names.contains(name)).count();
            assert_eq!(n, 1, "{name} is in {n} groups");
        }
        for (_, names) in GROUPS {
            for name in *names {
                assert!(visible.contains(name), "{name} is grouped but is not a visible command");
            }
        }
    }
}
