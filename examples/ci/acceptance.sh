#!/usr/bin/env bash
# A network acceptance job for a privileged CI runner: build vpcctl, apply
# a topology, check its expectations with real packets, write a JUnit
# report, tear down. Exits with `vpcctl check`'s code: 0 every expectation
# met, 1 any unmet, 2 a bad file.
#
#   sudo examples/ci/acceptance.sh [TOPOLOGY] [REPORT]
#
# Defaults: examples/ci/network.json, ./vpcctl-report.xml. Everything runs
# in a private network sandbox (scripts/sandbox.sh), whose "internet" is a
# namespace on documentation addresses, so the runner's own network is
# never touched.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
topology=$(realpath "${1:-$repo/examples/ci/network.json}")
report=$(realpath -m "${2:-$PWD/vpcctl-report.xml}")

if [[ -z "${VPCCTL_IN_SANDBOX:-}" ]]; then
    [[ $EUID -eq 0 ]] || { echo "run as root: sudo $0" >&2; exit 1; }
    "$repo/scripts/deps.sh"
    if [[ -z "${VPCCTL_BIN:-}" ]]; then
        (cd "$repo" && cargo build --release --locked --quiet)
        export VPCCTL_BIN="$repo/target/release/vpcctl"
    fi
    export VPCCTL_IN_SANDBOX=1
    exec "$repo/scripts/sandbox.sh" "$0" "$topology" "$report"
fi

V=$VPCCTL_BIN
echo "==> vpcctl apply -f $topology"
"$V" apply -f "$topology"
echo "==> vpcctl check -f $topology --junit $report"
code=0
"$V" check -f "$topology" --junit "$report" || code=$?
echo "==> vpcctl teardown-all --auto-approve"
"$V" -q teardown-all --auto-approve
exit "$code"
