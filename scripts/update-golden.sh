#!/usr/bin/env bash
# Rewrite the golden files (tests/golden/) from what vpcctl prints now, for
# review. A test stops at the first golden it rewrites, so this runs the
# golden tests again until a run rewrites nothing.
#
#   sudo scripts/update-golden.sh
set -euo pipefail
cd "$(dirname "$0")/.."
for _ in $(seq 30); do
    UPDATE_GOLDEN=1 cargo test --locked --test json_shapes --test cli >/dev/null 2>&1 && break
done
git diff --stat -- tests/golden
git status --short -- tests/golden | grep '^??' || true
echo "review: git diff tests/golden; then run the tests (scripts/test.sh) without UPDATE_GOLDEN"
