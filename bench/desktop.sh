#!/usr/bin/env bash
# Start-up time and idle cost of the desktop app (tests/examples/desktop_startup.rs), and
# the size of the UI bundle, for docs/benchmarks.md.
#
#   bench/desktop.sh                      # debug build of the app
#   PROFILE=release bench/desktop.sh      # release build (takes minutes to build)
#   bench/desktop.sh --runs 10            # own arguments for the example
#
# Needs Xvfb (scripts/install-deps.sh). Not part of the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=${PROFILE:-debug}
(cd ui && npm run build >/dev/null)
case $profile in
    debug) nice -n 10 cargo build -p parley ;;
    release) nice -n 10 cargo build --release -p parley ;;
    *) echo "PROFILE must be debug or release" >&2; exit 2 ;;
esac
nice -n 10 cargo build -q -p parley-e2e --example desktop_startup

echo "UI bundle (ui/dist):"
find ui/dist -type f \( -name '*.js' -o -name '*.css' -o -name '*.html' \) | sort | while read -r f; do
    printf '  %-40s %8d bytes, %7d gzipped\n' "${f#ui/dist/}" "$(stat -c %s "$f")" "$(gzip -9 -c "$f" | wc -c)"
done
total=$(find ui/dist -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
echo "  all files: $total bytes"
echo "app binary target/$profile/parley: $(stat -c %s "target/$profile/parley") bytes"

# A private copy: a build running meanwhile cannot replace it mid-run.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "target/$profile/parley" "$tmp/parley"
PARLEY_APP="$tmp/parley" cargo run -q -p parley-e2e --example desktop_startup -- "$@"
