//! The example scenarios in examples/ run in a sandbox and every
//! expectation they print must hold.

#[macro_use]
mod common;

fn run_example(name: &str) {
    let sb = sandbox!();
    let script = format!("{}/examples/{name}", env!("CARGO_MANIFEST_DIR"));
    let out = sb.sh(&format!("VPCCTL_IN_SANDBOX=1 VPCCTL_BIN=$VPCCTL {script}"));
    assert!(out.ok() && out.stdout.contains("every expectation held"), "{name}\n{out:?}");
    // An unmet expectation (doctor's own [FAIL] lines are part of a scenario).
    assert!(!out.stdout.contains("   FAIL "), "{out:?}");
}

#[test]
fn three_tier_example_holds() {
    run_example("three-tier.sh");
}

#[test]
fn dev_prod_shared_example_holds() {
    run_example("dev-prod-shared.sh");
}

#[test]
fn nat_gateway_per_az_example_holds() {
    run_example("nat-gateway-per-az.sh");
}

#[test]
fn shared_services_tgw_example_holds() {
    run_example("shared-services-tgw.sh");
}

#[test]
fn terraform_import_example_holds() {
    run_example("terraform/import.sh");
}

#[test]
fn three_tier_groups_example_holds() {
    run_example("three-tier-groups.sh");
}

#[test]
fn topologies_example_holds() {
    run_example("topologies.sh");
}

/// A demo script as a new user runs it (it makes its own sandbox; the one
/// made here only says whether tests can run): it ends saying every
/// expectation held.
fn demo_holds(script: &str) {
    let _sb = sandbox!();
    let out = std::process::Command::new(format!("{}/scripts/{script}", env!("CARGO_MANIFEST_DIR")))
        .env("VPCCTL_BIN", common::BIN)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run scripts/{script}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && stdout.contains("every expectation held"), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
}

/// The README's first command.
#[test]
fn the_demo_runs_and_every_expectation_holds() {
    demo_holds("demo.sh");
}

/// The multi-host demo the README names: three simulated hosts, one file,
/// then WireGuard.
#[test]
fn the_multihost_demo_runs_and_every_expectation_holds() {
    demo_holds("multihost-demo.sh");
}
