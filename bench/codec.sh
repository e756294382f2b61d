#!/usr/bin/env bash
# Parse+print throughput of the SIP codec (core/benches/codec.rs), for docs/benchmarks.md.
#
#   bench/codec.sh                 # criterion, then instructions per call with callgrind
#   bench/codec.sh decode          # extra arguments go to criterion (here: a filter)
#   CALLGRIND=0 bench/codec.sh     # skip callgrind
#
# Prints, per message, criterion's time per call and the throughput in messages/s and MB/s
# (10^6 bytes/s), from target/criterion/<group>/<message>/new/; with valgrind installed,
# also the instructions of one call (the mean over PARLEY_CODEC_ITERATIONS calls, default
# 1000), which, unlike times, do not depend on what else the machine is doing.
# Not part of the test suite: nothing here is asserted.
set -euo pipefail
cd "$(dirname "$0")/.."

nice -n 10 cargo bench -p parley-core --bench codec -- "$@"

echo
echo "== criterion summary (median; messages/s = 1 / time) =="
python3 - <<'PY'
import json, os
root = "target/criterion"
print(f"{'benchmark':<16}{'bytes':>7}{'time (us)':>12}{'messages/s':>13}{'MB/s':>9}")
for group in ("decode", "encode"):
    for msg in ("invite", "200_ok"):
        base = os.path.join(root, group, msg, "new")
        if not os.path.exists(os.path.join(base, "estimates.json")):
            continue
        ns = json.load(open(os.path.join(base, "estimates.json")))["median"]["point_estimate"]
        tp = json.load(open(os.path.join(base, "benchmark.json")))["throughput"]
        size = next(iter(tp.values()))
        print(f"{group + '/' + msg:<16}{size:>7}{ns / 1e3:>12.2f}{1e9 / ns:>13,.0f}{size * 1e3 / ns:>9.1f}")
PY

if [[ "${CALLGRIND:-1}" == 0 ]] || ! command -v valgrind >/dev/null; then
    exit 0
fi
bin=$(cargo bench -p parley-core --bench codec --no-run --message-format=json 2>/dev/null |
    python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "codec":
        print(m["executable"])')
iterations=${PARLEY_CODEC_ITERATIONS:-1000}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo
echo "== callgrind: instructions per call (mean of $iterations calls, first call included) =="
for case in decode_invite decode_200_ok encode_invite encode_200_ok; do
    case $case in
        decode_*) fn='parley_core::sip::codec::decode' ;;
        encode_invite) fn='parley_core::sip::message::Request::encode' ;;
        encode_200_ok) fn='parley_core::sip::codec::encode_response' ;;
    esac
    PARLEY_CODEC_CALLGRIND=$case PARLEY_CODEC_ITERATIONS=$iterations \
        nice -n 10 valgrind --tool=callgrind --collect-atstart=no --toggle-collect="$fn" \
        --callgrind-out-file="$out/$case.out" "$bin" >/dev/null 2>"$out/$case.log"
    ir=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$out/$case.log")
    printf '%-16s %10d instructions  (%s)\n' "$case" $((ir / iterations)) "$fn"
done
