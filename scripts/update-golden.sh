#!/usr/bin/env bash
# Rewrite the JSON shapes the tests pin (tests/golden/*.json) from what
# vpcctl prints now, then show what changed, for review. The run itself
# always "fails": a test run that may write goldens is never a pass.
#
#   sudo scripts/update-golden.sh
set -uo pipefail
cd "$(dirname "$0")/.."
UPDATE_GOLDEN=1 cargo test --locked --test json_shapes --test cli >/dev/null 2>&1
git diff --stat -- tests/golden
git status --short -- tests/golden | grep '^??' || true
echo "review: git diff tests/golden; then run the tests (scripts/test.sh) without UPDATE_GOLDEN"
