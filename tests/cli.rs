//! Issue: a CLI that DevOps users trust at first sight. Safe apply,
//! terraform's exit codes, read-only commands without root, YAML and a
//! schema, output formats, addressing, exec's codes, help and man pages.
//! The tests that need no kernel run anywhere; the rest in sandboxes.

#[macro_use]
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{BIN, Sandbox, golden};
use serde_json::{Value, json};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// vpcctl outside any sandbox, on a scratch state dir: only for commands
/// that read files or print text, never for ones that touch the kernel.
fn local(args: &[&str]) -> common::Out {
    let dir = scratch("state");
    let out = Command::new(BIN)
        .args(args)
        .env("VPCCTL_STATE_DIR", &dir)
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .output()
        .expect("run vpcctl");
    common::Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("vpcctl-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn read_doc(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    if path.extension().is_some_and(|x| x == "yaml" || x == "yml") {
        serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }
}

fn files(dir: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(repo().join(dir)).unwrap().map(|e| e.unwrap().path()).collect();
    v.sort();
    v
}

#[test]
fn schemas_are_current_and_every_example_validates() {
    for (format, dir) in [
        ("topology", vec!["examples/topologies", "examples/ci"]),
        ("policy", vec!["examples/policies"]),
        ("nacl", vec!["examples/nacls"]),
        ("expect", vec![]),
    ] {
        let out = local(&["schema", format]);
        assert!(out.ok(), "{out:?}");
        let printed: Value = serde_json::from_str(&out.stdout).unwrap();
        let committed = read_doc(&repo().join(format!("examples/schemas/{format}.schema.json")));
        assert_eq!(printed, committed, "examples/schemas/{format}.schema.json is stale: vpcctl schema {format} > it");
        let validator = jsonschema::validator_for(&printed).expect("a valid JSON Schema");
        let mut seen = 0;
        for d in dir {
            for f in files(d).into_iter().filter(|f| f.extension().is_some_and(|x| x == "json" || x == "yaml")) {
                let doc = read_doc(&f);
                let errors: Vec<String> = validator.iter_errors(&doc).map(|e| format!("{e} at {}", e.instance_path())).collect();
                assert!(errors.is_empty(), "{} does not validate against the {format} schema: {errors:?}", f.display());
                assert!(doc.get("$schema").is_some(), "{} names no $schema", f.display());
                seen += 1;
            }
        }
        assert!(format == "expect" || seen > 0, "no example of {format}");
        // What the parser refuses, the schema refuses.
        let bad = match format {
            "topology" => json!({"vpcs": {"v": {"cidr": "10.1.0.0/16", "pubic": true}}}),
            "policy" => json!({"ingress": [{"port": "80", "action": "allow", "colour": "red"}]}),
            "nacl" => json!({"inbound": [{"rule": "100", "protocol": "tcp", "action": "allow"}]}),
            _ => json!({"expect": [{"from": "v/s", "to": "10.0.0.1"}]}),
        };
        assert!(!validator.is_valid(&bad), "{format}: the schema accepts {bad}");
    }
}

#[test]
fn an_export_validates_against_the_topology_schema() {
    let schema: Value = serde_json::from_str(&local(&["schema", "topology"]).stdout).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    // What `export` writes for an empty host, and the richest example, as the
    // planner reads it back: both must be files the schema accepts.
    let out = local(&["export"]);
    assert!(out.ok(), "{out:?}");
    assert!(validator.is_valid(&serde_json::from_str::<Value>(&out.stdout).unwrap()), "{}", out.stdout);
}

#[test]
fn plan_detailed_exitcode_is_1_for_any_error() {
    let d = scratch("broken");
    let broken = d.join("broken.json");
    std::fs::write(&broken, r#"{"vpcs": {"v": {"cidr": "10.1.0.0/16", "pubic": true}}}"#).unwrap();
    let out = local(&["plan", "-f", broken.to_str().unwrap(), "--detailed-exitcode"]);
    assert_eq!(out.code, 1, "a broken file is an error, not 'changes'\n{out:?}");
    assert!(out.stderr.contains("unknown key \"pubic\""), "{out:?}");
    let out = local(&["plan", "--detailed-exitcode"]);
    assert_eq!(out.code, 1, "a usage error too\n{out:?}");
    // Without the flag a bad file keeps its own code (2).
    assert_eq!(local(&["plan", "-f", broken.to_str().unwrap()]).code, 2);
    // A quoted port is named as such, not as missing.
    std::fs::write(
        &broken,
        r#"{"vpcs": {"v": {"cidr": "10.1.0.0/16", "subnets": {"s": {"cidr": "10.1.1.0/24", "apps": [{"port": "80"}]}}}}}"#,
    )
    .unwrap();
    let out = local(&["plan", "-f", broken.to_str().unwrap()]);
    assert!(out.stderr.contains("must be a number") && !out.stderr.contains("is required"), "{out:?}");
}

#[test]
fn output_flags_are_refused_where_they_cannot_apply() {
    for args in [&["--json", "graph"][..], &["-o", "yaml", "graph"], &["-o", "name", "export"], &["-o", "wide", "doctor"]] {
        let out = local(args);
        assert_eq!(out.code, 2, "{args:?}\n{out:?}");
        assert!(out.stderr.contains("does not apply here"), "{args:?}\n{out:?}");
    }
    let out = local(&["version"]);
    assert_eq!(out.stdout.trim(), format!("vpcctl {}", env!("CARGO_PKG_VERSION")));
    let v: Value = serde_json::from_str(&local(&["version", "-o", "json"]).stdout).unwrap();
    golden("version", &json!({"keys": v.as_object().unwrap().keys().collect::<Vec<_>>()}));
}

#[test]
fn exec_usage_errors_are_125_with_a_hint() {
    let out = local(&["exec", "vpc1", "web", "ping", "10.0.0.1"]);
    assert_eq!(out.code, 125, "{out:?}");
    assert!(out.stderr.contains("hint: put the command after '--'"), "{out:?}");
    let out = local(&["exec", "vpc1", "nosuch", "--", "true"]);
    assert_eq!(out.code, 125, "an unknown VPC is vpcctl's failure\n{out:?}");
}

#[test]
fn help_is_grouped_and_every_command_is_in_one_group() {
    let out = local(&["--help"]);
    assert!(out.ok());
    let groups = ["VPCs:", "Subnets:", "Routing:", "Security:", "Services:", "Topologies:", "Diagnostics:", "Setup:"];
    let mut at = 0;
    for g in groups {
        let i = out.stdout[at..].find(g).unwrap_or_else(|| panic!("no group {g} (in order)\n{}", out.stdout)) + at;
        at = i;
    }
    // Every visible subcommand appears exactly once in the groups.
    let listed: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("  ") && !l.trim_start().starts_with('-'))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    for name in ["create-vpc", "add-subnet", "apply", "plan", "schema", "version", "doctor", "exec", "flow-logs", "apply-nacl"] {
        assert_eq!(listed.iter().filter(|n| **n == name).count(), 1, "{name} in {listed:?}");
    }
    assert!(!listed.contains(&"serve") && !listed.contains(&"app-init"), "internal commands are hidden");
    let sub = local(&["create-vpc", "--help"]).stdout;
    assert!(sub.contains("Global options:") && sub.contains("--state-dir"), "{sub}");
    assert!(out.stdout.contains("VPCCTL_LOG"), "VPCCTL_LOG is documented");
}

#[test]
fn install_writes_a_man_page_per_command() {
    let dest = scratch("install");
    let out = Command::new(repo().join("scripts/install.sh"))
        .env("DESTDIR", &dest)
        .env("VPCCTL_BIN", BIN)
        .output()
        .expect("run scripts/install.sh");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let man = dest.join("usr/local/share/man/man1");
    for page in ["vpcctl.1", "vpcctl-create-vpc.1", "vpcctl-apply.1", "vpcctl-flow-logs-enable.1"] {
        let text = std::fs::read_to_string(man.join(page)).unwrap_or_else(|_| panic!("{page} was not installed"));
        for section in [".SH \"EXIT STATUS\"", ".SH ENVIRONMENT", ".SH FILES", ".SH \"FILE FORMATS\""] {
            assert!(text.contains(section), "{page} lacks {section}");
        }
    }
    assert!(!man.join("vpcctl-serve.1").exists() && !man.join("vpcctl-help.1").exists());
    // A dry run says what it would write, and writes nothing.
    let dry = dest.join("dry");
    let out = local(&["--dry-run", "man", "--dir", dry.to_str().unwrap()]);
    assert!(out.ok() && out.stderr.contains("would write"), "{out:?}");
    assert!(!dry.exists(), "a dry run wrote man pages");
    let bash = std::fs::read_to_string(dest.join("usr/local/share/bash-completion/completions/vpcctl")).unwrap();
    assert!(bash.contains("COMPLETE"), "bash completion is the dynamic registration\n{bash}");
    let _ = std::fs::remove_dir_all(&dest);
}

// ---- in sandboxes ----

/// A topology with two VPCs, and the same minus one: applying the second
/// deletes.
fn two_and_one(sb: &Sandbox) -> (String, String) {
    let two = sb.file(
        "two.json",
        r#"{"vpcs": {"a": {"cidr": "10.10.0.0/16", "dns": false, "subnets": {"web": {"cidr": "10.10.1.0/24"}}},
                     "b": {"cidr": "10.20.0.0/16", "dns": false, "subnets": {"api": {"cidr": "10.20.1.0/24"}}}}}"#,
    );
    let one =
        sb.file("one.json", r#"{"vpcs": {"a": {"cidr": "10.10.0.0/16", "dns": false, "subnets": {"web": {"cidr": "10.10.1.0/24"}}}}}"#);
    (two, one)
}

#[test]
fn apply_without_a_terminal_refuses_to_destroy_unless_auto_approved() {
    let sb = sandbox!();
    let (two, one) = two_and_one(&sb);
    // Creates never ask.
    sb.v(&["apply", "-f", &two]);
    let before = (sb.snapshot(), sb.state_json());
    let out = sb.vpcctl(&["apply", "-f", &one]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("--auto-approve") && out.stderr.contains("vpc b"), "{out:?}");
    assert_eq!((sb.snapshot(), sb.state_json()), before, "a refused apply changed something");
    // A CIDR change replaces, and asks the same way.
    let moved = sb.file(
        "moved.json",
        r#"{"vpcs": {"a": {"cidr": "10.10.0.0/16", "dns": false, "subnets": {"web": {"cidr": "10.10.1.0/24"}}},
                     "b": {"cidr": "10.20.0.0/16", "dns": false, "subnets": {"api": {"cidr": "10.20.2.0/24"}}}}}"#,
    );
    assert_eq!(sb.vpcctl(&["apply", "-f", &moved]).code, 2);
    assert!(sb.v(&["plan", "-f", &moved]).contains("-/+ subnet b/api"));
    // teardown-all asks too.
    assert_eq!(sb.vpcctl(&["teardown-all"]).code, 2);
    assert_eq!((sb.snapshot(), sb.state_json()), before);
    // On a terminal, the question: anything but "yes" changes nothing
    // (exit 1, as terraform's "Apply cancelled"); "yes" goes on.
    let asked = sb.sh(&format!("printf 'no\\n' | script -qec '$VPCCTL apply -f {one}' /dev/null"));
    assert_eq!(asked.code, 1, "{asked:?}");
    assert!(asked.stdout.contains("- vpc b") && asked.stdout.contains("Destroy them?"), "the plan, then the question\n{asked:?}");
    assert_eq!((sb.snapshot(), sb.state_json()), before);
    let yes = sb.sh(&format!("printf 'yes\\n' | script -qec '$VPCCTL apply -f {one}' /dev/null"));
    assert_eq!(yes.code, 0, "{yes:?}");
    assert!(sb.v(&["-q", "list"]).trim() == "a");
    sb.v(&["apply", "-f", &two]);
    sb.v(&["apply", "-f", &one, "--auto-approve"]);
    assert_eq!(sb.v(&["-q", "list"]).trim(), "a");
    sb.v(&["teardown-all", "--auto-approve"]);
    assert_eq!(sb.v(&["-q", "list"]).trim(), "");
}

#[test]
fn read_only_commands_work_as_nobody() {
    let sb = sandbox!();
    let (two, _) = two_and_one(&sb);
    sb.v(&["apply", "-f", &two]);
    sb.ok(&format!("chmod 0644 {two}"));
    let as_nobody = |cmd: &str| sb.sh(&format!("setpriv --reuid=65534 --regid=65534 --clear-groups $VPCCTL {cmd}"));
    for cmd in ["list", "inspect a b", &format!("plan -f {two}"), "export", "graph", "test-connectivity a web 10.20.1.2 --explain"] {
        let out = as_nobody(cmd);
        // --explain's own answer is 0 (reachable) or 1 (blocked); neither is an error.
        assert!(out.code == 0 || (cmd.contains("--explain") && out.code == 1), "{cmd} as nobody\n{out:?}");
        assert!(out.stderr.is_empty(), "{cmd} as nobody\n{out:?}");
    }
    // A change still needs root, said once, with a hint that works.
    let out = as_nobody("delete a");
    assert_eq!(out.code, 4, "{out:?}");
    assert_eq!(out.stderr.trim().lines().count(), 1, "{out:?}");
    assert!(out.stderr.contains("sudo"), "{out:?}");
    let out = as_nobody("--dry-run delete a");
    assert!(out.ok() && out.stdout.starts_with("#!/bin/sh"), "the dry run the hint suggests works as nobody\n{out:?}");
    sb.v(&["teardown-all", "--auto-approve"]);
}

#[test]
fn a_yaml_topology_applies_to_the_same_export_as_its_json_twin() {
    let sb = sandbox!();
    let json_file = repo().join("examples/topologies/three-tier.json");
    let yaml_file = repo().join("examples/topologies/three-tier.yaml");
    sb.v(&["apply", "-f", json_file.to_str().unwrap()]);
    let from_json = sb.v(&["export"]);
    assert!(sb.v(&["plan", "-f", yaml_file.to_str().unwrap()]).contains("no changes"), "the YAML twin plans nothing");
    sb.v(&["teardown-all", "--auto-approve"]);
    sb.v(&["apply", "-f", yaml_file.to_str().unwrap()]);
    assert_eq!(sb.v(&["export"]), from_json);
    assert_eq!(
        serde_norway::from_str::<Value>(&sb.v(&["export", "-o", "yaml"])).unwrap(),
        serde_json::from_str::<Value>(&from_json).unwrap()
    );
    sb.v(&["teardown-all", "--auto-approve"]);
    // -f DIR: a directory's files, merged.
    sb.ok("mkdir -p $SANDBOX_TMP/net");
    sb.file("net/a.json", r#"{"vpcs": {"a": {"cidr": "10.10.0.0/16", "dns": false}}}"#);
    sb.file("net/b.yaml", "vpcs:\n  b: {cidr: 10.20.0.0/16, dns: false}\npeerings:\n  - vpcs: [a, b]\n");
    let plan = sb.v(&["plan", "-f", "/run/vpcctl-sandbox/net"]);
    assert!(plan.contains("+ vpc a") && plan.contains("+ vpc b") && plan.contains("+ peering"), "{plan}");
    sb.file("net/c.json", r#"{"vpcs": {"a": {"cidr": "10.30.0.0/16"}}}"#);
    sb.refused(&["plan", "-f", "/run/vpcctl-sandbox/net"], "defined in both a.json and c.json");
}

#[test]
fn output_formats_names_and_addressing() {
    let sb = sandbox!();
    sb.v(&["create-vpc", "vpc1", "10.10.0.0/16", "--no-dns"]);
    sb.v(&["create-vpc", "vpc10", "10.100.0.0/16", "--no-dns"]);
    sb.v(&["create-vpc", "vpc2", "10.20.0.0/16", "--no-dns"]);
    for (name, n) in [("s1", 1), ("s10", 10), ("s2", 2)] {
        sb.v(&["add-subnet", &format!("vpc1/{name}"), &format!("10.10.{n}.0/24")]);
    }
    sb.v(&["add-subnet", "--vpc", "vpc2", "--name", "db", "--cidr", "10.20.1.0/24"]);
    assert_eq!(sb.v(&["-q", "list"]), "vpc1\nvpc2\nvpc10\n", "names only, sorted naturally");
    assert_eq!(sb.v(&["list", "-o", "name"]), "vpc1\nvpc2\nvpc10\n");
    let text = sb.v(&["list"]);
    let wide = sb.v(&["list", "-o", "wide"]);
    assert!(text.contains("3 (0 public)") && !text.contains("s10"), "{text}");
    assert!(wide.contains("s1(private), s2(private), s10(private)") && wide.contains("BRIDGE"), "{wide}");
    golden("list-text-and-wide", &json!({"text": text.lines().collect::<Vec<_>>(), "wide": wide.lines().collect::<Vec<_>>()}));
    assert_eq!(sb.v(&["inspect", "vpc1", "vpc2", "-o", "name"]), "vpc1\nvpc1/s1\nvpc1/s10\nvpc1/s2\nvpc2\nvpc2/db\n");
    let two: Value = serde_json::from_str(&sb.v(&["inspect", "vpc1", "vpc2", "--json"])).unwrap();
    assert_eq!(two.as_array().map(Vec::len), Some(2), "{two}");
    let yaml: Value = serde_norway::from_str(&sb.v(&["inspect", "vpc2", "-o", "yaml"])).unwrap();
    assert_eq!(yaml, serde_json::from_str::<Value>(&sb.v(&["inspect", "vpc2", "--json"])).unwrap());
    sb.refused(&["inspect", "vpc1", "nope"], "nope");
    // VPC/SUBNET everywhere a subnet goes, and test-connectivity to a subnet.
    sb.v(&["deploy-app", "vpc1/s2", "--port", "80"]);
    assert!(sb.vpcctl(&["test-connectivity", "vpc1", "s1", "vpc1/s2", "--port", "80"]).ok());
    assert!(sb.vpcctl(&["test-connectivity", "vpc1/s1", "s2", "--port", "80"]).ok());
    assert_eq!(sb.vpcctl(&["test-connectivity", "vpc1", "s1", "vpc2/db"]).code, 1, "another VPC is not reachable");
    sb.v(&["stop-app", "--subnet", "vpc1/s2"]);
    sb.v(&["delete-subnet", "vpc1/s10"]);
    // Several at once; none is deleted when one is unknown.
    sb.refused(&["delete", "vpc2", "nope"], "nope");
    assert_eq!(sb.v(&["-q", "list"]), "vpc1\nvpc2\nvpc10\n");
    let out = sb.v(&["delete", "vpc2", "vpc10"]);
    assert!(out.contains("'vpc2', 'vpc10'"), "{out}");
    assert_eq!(sb.v(&["-q", "list"]), "vpc1\n");
    sb.v(&["teardown-all", "--auto-approve"]);
}

#[test]
fn dry_run_delete_prints_a_runnable_script_and_says_would() {
    let sb = sandbox!();
    sb.v(&["create-vpc", "vpc1", "10.10.0.0/16", "--no-dns"]);
    sb.v(&["add-subnet", "vpc1", "web", "10.10.1.0/24"]);
    sb.v(&["deploy-app", "vpc1", "web", "--port", "80"]);
    let out = sb.vpcctl(&["--dry-run", "delete", "vpc1"]);
    assert!(out.ok(), "{out:?}");
    assert!(out.stdout.starts_with("#!/bin/sh\n"), "the script comes first\n{out:?}");
    assert!(out.stderr.contains("would delete VPC 'vpc1'") && !out.stderr.contains("deleted"), "{out:?}");
    assert!(sb.ok("ip link show br-vpc1").contains("br-vpc1"), "a dry run changed nothing");
    // The script runs, and does what delete would.
    let script = sb.file("delete.sh", &out.stdout);
    sb.ok(&format!("sh {script}"));
    assert!(!sb.sh("ip link show br-vpc1").ok(), "the script removed the bridge");
    assert!(!sb.sh("ip netns list").stdout.contains("ns-vpc1-web"));
    // State still records it; delete converges (it is all gone already).
    sb.v(&["delete", "vpc1"]);
}

#[test]
fn exec_passes_the_command_code_through() {
    let sb = sandbox!();
    sb.v(&["create-vpc", "vpc1", "10.10.0.0/16", "--no-dns"]);
    sb.v(&["add-subnet", "vpc1", "web", "10.10.1.0/24"]);
    assert_eq!(sb.vpcctl(&["exec", "vpc1", "web", "--", "sh", "-c", "exit 7"]).code, 7);
    assert_eq!(sb.vpcctl(&["exec", "vpc1/web", "--", "true"]).code, 0);
    assert_eq!(sb.vpcctl(&["exec", "vpc1", "nosuch", "--", "true"]).code, 125);
    let out = sb.vpcctl(&["exec", "vpc1", "web", "--", "no-such-program-here"]);
    assert_eq!(out.code, 127, "{out:?}");
    // Without a command: a shell, in the namespace.
    let out = sb.sh("echo 'ip -br link | grep -c veth; exit 3' | SHELL=/bin/sh $VPCCTL exec vpc1 web");
    assert_eq!(out.code, 3, "{out:?}");
    sb.v(&["teardown-all", "--auto-approve"]);
}

#[test]
fn verbose_output_in_a_pipe_has_no_escape_sequences() {
    let sb = sandbox!();
    let out = sb.ok("$VPCCTL -vv create-vpc vpc1 10.10.0.0/16 --no-dns 2>&1 | cat; $VPCCTL -v plan -f /dev/stdin <<< '{}' 2>&1 | cat");
    assert!(out.contains("ip") && out.contains("vpc1"), "{out}");
    assert!(!out.contains('\x1b'), "escape sequences in a pipe:\n{out:?}");
    // On a terminal, plan colours its lines (and NO_COLOR turns that off).
    let file = sb.file("t.json", r#"{"vpcs": {"vpc1": {"cidr": "10.10.0.0/16", "dns": false}, "vpc2": {"cidr": "10.20.0.0/16"}}}"#);
    let tty = sb.sh(&format!("script -qec '$VPCCTL plan -f {file}' /dev/null"));
    assert!(tty.stdout.contains("\x1b[32m+ vpc vpc2"), "{tty:?}");
    let plain = sb.sh(&format!("NO_COLOR=1 script -qec '$VPCCTL plan -f {file}' /dev/null"));
    assert!(!plain.stdout.contains('\x1b'), "{plain:?}");
    sb.v(&["teardown-all", "--auto-approve"]);
    // A big apply shows its progress on a terminal, and nothing in a pipe.
    let subnets: Vec<String> = (1..=60).map(|i| format!(r#""s{i}": {{"cidr": "10.50.{i}.0/24"}}"#)).collect();
    let big = sb.file(
        "big.json",
        &format!(r#"{{"vpcs": {{"big": {{"cidr": "10.50.0.0/16", "dns": false, "subnets": {{{}}}}}}}}}"#, subnets.join(", ")),
    );
    let tty = sb.sh(&format!("script -qec '$VPCCTL apply -f {big}' /dev/null"));
    assert!(tty.ok() && tty.stdout.contains("kernel step(s)"), "no progress on a terminal: {tty:?}");
    sb.v(&["teardown-all", "--auto-approve"]);
    let piped = sb.sh(&format!("$VPCCTL apply -f {big} 2>&1 | cat"));
    assert!(piped.ok() && piped.stdout.contains("applied:") && !piped.stdout.contains("kernel step"), "progress in a pipe: {piped:?}");
    sb.v(&["teardown-all", "--auto-approve"]);
}

/// The README's Quick start, run line by line: every `$` command, and the
/// output it shows. `[...]` in an expected line stands for any text (times).
#[test]
fn the_readme_quick_start_runs_as_shown() {
    let sb = sandbox!();
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let start = readme.find("<!-- quick-start").expect("the README marks its quick start");
    let block = &readme[start..];
    let block = &block[block.find("```console\n").unwrap() + 11..];
    let block = &block[..block.find("```").unwrap()];
    let mut steps: Vec<(String, Vec<String>)> = vec![];
    for line in block.lines() {
        match line.strip_prefix("$ ") {
            Some(cmd) => steps.push((cmd.to_string(), vec![])),
            None => steps.last_mut().expect("output before any command").1.push(line.to_string()),
        }
    }
    assert!(steps.len() >= 10, "{steps:?}");
    sb.ok("mkdir -p $SANDBOX_TMP/qs");
    for (cmd, want) in steps {
        let shell = cmd.replace("sudo vpcctl", "$VPCCTL").replace("vpcctl ", "$VPCCTL ");
        let out = sb.sh(&format!("cd $SANDBOX_TMP/qs && {{ {shell}; }} 2>&1"));
        // A negative answer exits 1 (see Exit codes); anything else must succeed.
        let negative = want.iter().any(|w| w.starts_with("NOT reachable"));
        assert!(out.code == if negative { 1 } else { 0 }, "README: {cmd}\n{out:?}");
        let got: Vec<&str> = out.stdout.lines().collect();
        assert_eq!(got.len(), want.len(), "README: {cmd}: shows {want:#?}\ngot {got:#?}");
        for (g, w) in got.iter().zip(&want) {
            let ok = match w.split_once("[...]") {
                Some((head, tail)) => g.starts_with(head) && g.ends_with(tail),
                None => g == w,
            };
            assert!(ok, "README: {cmd}\n  shows: {w}\n  got:   {g}");
        }
    }
    assert!(!sb.sh("ip link show br-vpc1").ok(), "the quick start ends with the VPC gone");
}
