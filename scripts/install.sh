#!/usr/bin/env bash
# Build vpcctl and install it with its man page and shell completions in
# the standard places.
#
#   sudo scripts/install.sh              # PREFIX=/usr/local
#   PREFIX=/usr DESTDIR=/tmp/pkg scripts/install.sh   # for packaging
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${PREFIX:-/usr/local}
root=${DESTDIR:-}
# VPCCTL_BIN: install that binary instead of building one (the tests do).
bin=${VPCCTL_BIN:-}
if [[ -z "$bin" ]]; then
    cargo build --release --locked --quiet
    bin=target/release/vpcctl
fi
install -Dm0755 "$bin" "$root$prefix/bin/vpcctl"
install -d "$root$prefix/share/man/man1" "$root$prefix/share/bash-completion/completions" \
    "$root$prefix/share/zsh/site-functions" "$root$prefix/share/fish/vendor_completions.d"
"$bin" -q man --dir "$root$prefix/share/man/man1"
"$bin" completions bash > "$root$prefix/share/bash-completion/completions/vpcctl"
"$bin" completions zsh > "$root$prefix/share/zsh/site-functions/_vpcctl"
"$bin" completions fish > "$root$prefix/share/fish/vendor_completions.d/vpcctl.fish"
if [[ -z "$root" ]]; then
    # The resolvers and the flow-log daemon drop to users of their own.
    for u in vpcctl-dns vpcctl-flowlog; do
        id -u "$u" >/dev/null 2>&1 ||
            useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$u"
    done
fi
echo "installed $root$prefix/bin/vpcctl, its man pages (man vpcctl, man vpcctl-create-vpc, ...) and bash, zsh and fish completions"
echo "(a new shell picks the completions up; bash needs the bash-completion package)"
