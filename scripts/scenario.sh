# Sourced by the demo scripts, from the repository's root: as root, install
# what is missing and build (unless VPCCTL_BIN names a binary, as the tests
# do), then run the calling script again inside a fresh sandbox, with
# __scenario as its first argument. Returns only there.
enter_sandbox() {
    [[ "${1:-}" == "__scenario" ]] && return 0
    [[ $EUID -eq 0 ]] || { echo "$0: run as root: sudo $0" >&2; exit 1; }
    scripts/deps.sh
    if [[ -z "${VPCCTL_BIN:-}" ]]; then
        echo "==> building vpcctl"
        cargo build --locked --quiet
        export VPCCTL_BIN="$PWD/target/debug/vpcctl"
    fi
    exec scripts/sandbox.sh "$0" __scenario
}
