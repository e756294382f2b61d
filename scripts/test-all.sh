#!/usr/bin/env bash
# Installs what is missing, then runs every check and test: formatting, lints, unit and
# property tests, and the interop tests against kamailio, baresip and sipp on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"

echo "== cargo fmt"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "== build (the interop tests drive the parley-cli binary)"
cargo build --workspace --bins
echo "== tests"
cargo nextest run --workspace --profile ci --no-fail-fast
