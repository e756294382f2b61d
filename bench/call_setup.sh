#!/usr/bin/env bash
# Call setup time on loopback through Kamailio (tests/examples/call_setup.rs), for
# docs/benchmarks.md: Parley dials a baresip (auto-answer) registered to the rig's Kamailio;
# INVITE sent -> 200 OK received from Parley's own trace log, min/median/p95/max in ms.
#
#   bench/call_setup.sh                      # debug parley-cli, 50 calls (+ tshark, baresip reference)
#   PROFILE=release bench/call_setup.sh      # release parley-cli (its build takes minutes)
#   bench/call_setup.sh --calls 20 --wire    # own arguments for the example instead of the defaults
#
# Needs the rig's programs (tests/rig/README.md); --wire/--reference also need tshark.
# Not part of the test suite: nothing here is asserted.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=${PROFILE:-debug}
case $profile in
    debug) nice -n 10 cargo build --bin parley-cli ;;
    release) nice -n 10 cargo build --release --bin parley-cli ;;
    *) echo "PROFILE must be debug or release" >&2; exit 2 ;;
esac
nice -n 10 cargo build -p parley-e2e --example call_setup

# A private copy of the agent: a build running meanwhile cannot replace it mid-run.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "target/$profile/parley-cli" "$tmp/parley-cli"

args=("$@")
if [[ ${#args[@]} -eq 0 ]]; then
    args=(--calls 50)
    if command -v tshark >/dev/null; then
        args+=(--reference)
    fi
fi
echo "parley-cli ($profile build) copied from target/$profile/parley-cli"
PARLEY_CLI="$tmp/parley-cli" cargo run -q -p parley-e2e --example call_setup -- "${args[@]}"
