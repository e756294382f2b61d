#!/usr/bin/env bash
# Presence sync latency both ways (tests/examples/teams_latency.rs), for docs/benchmarks.md.
#
#   bench/teams_latency.sh                      # release build, default interval (10 s)
#   bench/teams_latency.sh --rounds 3 --poll 2  # own arguments for the example
#
# Needs sipp (scripts/install-deps.sh). Not part of the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
nice -n 10 cargo build -q --release --bin parley-cli
PARLEY_CLI="$PWD/target/release/parley-cli" cargo run -q -p parley-e2e --example teams_latency -- "$@"
