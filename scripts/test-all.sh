#!/usr/bin/env bash
# Installs what is missing, then runs every check and test: the UI's type check, lint,
# unit tests and build; Rust formatting and lints; unit and property tests; the interop
# tests against kamailio, baresip and sipp on loopback; and the desktop app end to end
# under Xvfb through tauri-driver.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"

echo "== UI: type check, lint, unit tests, build (the desktop shell embeds ui/dist)"
(cd ui && npm run check && npm run lint && npm test && npm run build)
echo "== cargo fmt"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "== build (the tests drive the parley-cli and parley binaries)"
cargo build --workspace --bins
echo "== tests"
cargo nextest run --workspace --profile ci --no-fail-fast
