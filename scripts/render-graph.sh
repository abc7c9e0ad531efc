#!/usr/bin/env bash
# Render the README's topology picture: apply an example topology in a
# sandbox, draw it with `vpcctl graph`, and turn the DOT into SVG.
#
#   sudo scripts/render-graph.sh [TOPOLOGY] [OUT.svg]
# Defaults: examples/ci/network.json, examples/topology.svg.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
topology=$(realpath "${1:-$repo/examples/ci/network.json}")
out=$(realpath -m "${2:-$repo/examples/topology.svg}")
if [[ "${3:-}" != "__inner" ]]; then
    [[ $EUID -eq 0 ]] || { echo "run as root: sudo $0" >&2; exit 1; }
    "$repo/scripts/deps.sh"
    command -v dot >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null; }
    (cd "$repo" && cargo build --locked --quiet)
    export VPCCTL_BIN="$repo/target/debug/vpcctl"
    exec "$repo/scripts/sandbox.sh" "$0" "$topology" "$out" __inner
fi
"$VPCCTL_BIN" -q apply -f "$topology"
"$VPCCTL_BIN" graph | dot -Tsvg > "$out"
"$VPCCTL_BIN" -q teardown-all --auto-approve
echo "wrote $out"
