#!/usr/bin/env bash
# Memory and CPU of the idle headless agent (tests/examples/idle_agent.rs), for
# docs/benchmarks.md: parley-cli registered to the rig's Kamailio, idle for 30 s; VmRSS and
# VmHWM from /proc/<pid>/status, utime+stime from /proc/<pid>/stat.
#
#   bench/idle_agent.sh                      # debug parley-cli
#   PROFILE=release bench/idle_agent.sh      # release parley-cli (its build takes minutes)
#   bench/idle_agent.sh --seconds 60         # own arguments for the example
#
# Needs kamailio and PulseAudio (tests/rig/README.md). Not part of the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=${PROFILE:-debug}
case $profile in
    debug) nice -n 10 cargo build --bin parley-cli ;;
    release) nice -n 10 cargo build --release --bin parley-cli ;;
    *) echo "PROFILE must be debug or release" >&2; exit 2 ;;
esac
nice -n 10 cargo build -p parley-e2e --example idle_agent

# A private copy of the agent: a build running meanwhile cannot replace it mid-run.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "target/$profile/parley-cli" "$tmp/parley-cli"

echo "parley-cli ($profile build) copied from target/$profile/parley-cli"
PARLEY_CLI="$tmp/parley-cli" cargo run -q -p parley-e2e --example idle_agent -- "$@"
