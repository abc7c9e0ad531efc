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
fn topologies_example_holds() {
    run_example("topologies.sh");
}
