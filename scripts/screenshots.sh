#!/usr/bin/env bash
# Writes screenshots of the desktop app's main states (English and German) to
# docs/screenshots/, for the README: the app in demo mode under Xvfb, driven through
# tauri-driver (tests/examples/screenshots.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
(cd ui && npm run build)
cargo build -p parley
cargo run -q -p parley-e2e --example screenshots -- "$PWD/docs/screenshots"
