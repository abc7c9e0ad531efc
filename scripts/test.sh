#!/usr/bin/env bash
# Install what the tests need, build, and run every test (unit tests and,
# as root, integration tests in private sandboxes).
#
#   sudo scripts/test.sh [cargo test args...]
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $EUID -ne 0 ]]; then
    echo "scripts/test.sh: integration tests need root; run: sudo $0" >&2
    [[ "${CI:-}" == "true" ]] && exit 1
fi
[[ $EUID -eq 0 ]] && scripts/deps.sh
cargo build --locked
# Integration tests that cannot run say "SKIPPED" on stderr and pass
# (under CI=true they fail instead): count them, so no one takes a run
# of skips for a green one.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --locked "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
skipped=$(grep -c '^SKIPPED:' "$log" || true)
if [[ $skipped -gt 0 ]]; then
    echo "" >&2
    echo "scripts/test.sh: $skipped integration test(s) were SKIPPED, not run: $(grep -m1 '^SKIPPED:' "$log" | cut -d' ' -f2-)" >&2
    echo "scripts/test.sh: only a run as root (sudo $0) tests vpcctl against a kernel" >&2
fi
exit $status
