#!/usr/bin/env bash
# CPU of the headless agent during one G.711 call, with live devices (PulseAudio null
# sinks) and without (tests/examples/call_cost.rs), for docs/benchmarks.md.
#
#   bench/call_cost.sh                    # debug build
#   PROFILE=release bench/call_cost.sh    # release build
#   bench/call_cost.sh --seconds 30       # own arguments for the example
#
# Needs the test rig (scripts/install-deps.sh). Not part of the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=${PROFILE:-debug}
case $profile in
    debug) nice -n 10 cargo build -q --bin parley-cli ;;
    release) nice -n 10 cargo build -q --release --bin parley-cli ;;
    *) echo "PROFILE must be debug or release" >&2; exit 2 ;;
esac
PARLEY_CLI="$PWD/target/$profile/parley-cli" cargo run -q -p parley-e2e --example call_cost -- "$@"
