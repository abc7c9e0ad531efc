# Shared by the example scenarios: re-run inside a sandbox, and helpers
# that print each step and whether each expectation held.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ -z "${VPCCTL_IN_SANDBOX:-}" ]]; then
    [[ $EUID -eq 0 ]] || { echo "run as root: sudo $0" >&2; exit 1; }
    if [[ -z "${VPCCTL_BIN:-}" ]]; then
        (cd "$repo" && scripts/deps.sh && cargo build --locked --quiet)
        export VPCCTL_BIN="$repo/target/debug/vpcctl"
    fi
    export VPCCTL_IN_SANDBOX=1
    exec "$repo/scripts/sandbox.sh" "$0" "$@"
fi
V=${VPCCTL_BIN:-vpcctl}
failures=0
step() { printf '\n==> %s\n' "$*"; }
run() { printf '$ vpcctl %s\n' "$*"; "$V" "$@"; }
expect() {   # expect yes|no VPC FROM IP [PORT]: test-connectivity, compared
    local want=$1 vpc=$2 from=$3 ip=$4 port=${5:-}
    local args=(test-connectivity --vpc "$vpc" --from "$from" --to "$ip")
    [[ -n "$port" ]] && args+=(--port "$port")
    local got=no out
    out=$("$V" "${args[@]}" 2>&1) && got=yes
    local what="$vpc/$from -> $ip${port:+:$port}"
    if [[ $got == "$want" ]]; then
        printf '   ok   %-40s %s\n' "$what" "$( [[ $want == yes ]] && echo reachable || echo blocked)"
    else
        printf '   FAIL %-40s expected %s; %s\n' "$what" "$( [[ $want == yes ]] && echo reachable || echo blocked)" "$out"
        failures=$((failures + 1))
    fi
}
fail() { printf '   FAIL %s\n' "$*"; failures=$((failures + 1)); }
finish() {
    echo
    if (( failures == 0 )); then echo "every expectation held"; else echo "$failures expectation(s) failed"; exit 1; fi
}
