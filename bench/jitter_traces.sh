#!/usr/bin/env bash
# Benchmark 3 of the audio engine: the adaptive jitter buffer on generated arrival traces
# against fixed buffers and the offline optimum (audio-engine/examples/jitter_traces.rs),
# for docs/benchmarks.md. Runs in virtual time: the numbers do not depend on the machine.
#
#   bench/jitter_traces.sh             # 120 s per profile, seed 1
#   bench/jitter_traces.sh 600 7       # 600 s per profile, seed 7
#
# Not part of the test suite: nothing here is asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
nice -n 10 cargo run -q --release -p audio-engine --example jitter_traces -- "$@"
