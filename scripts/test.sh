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
cargo test --locked "$@"
