#!/usr/bin/env bash
# Installs what is missing, builds Parley and starts the desktop app. Without an account
# (no ~/.config/parley/parley.toml) it runs in demo mode: the demo contact center runs on
# loopback inside the app, Parley registers to it, and it offers calls from sample
# customers; Settings > Account connects a real PBX.
#
#   scripts/run-parley.sh              the desktop app (needs a display: $DISPLAY or Wayland)
#   scripts/run-parley.sh --headless   the headless agent against the demo contact center,
#                                      JSON commands on stdin (docs/headless.md)
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"

if [ "${1:-}" = "--headless" ]; then
  cargo build --bin parley-cli
  CLI=target/debug/parley-cli
  work=$(mktemp -d)
  trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
  cat > "$work/demo.toml" <<TOML
# Demo mode: the agent registers to the demo contact center on loopback.
[account]
username = "agent"
domain = "127.0.0.1"
display_name = "Demo Agent"
registrar = "sip:127.0.0.1:5070"

[sip]
listen = "127.0.0.1:0"

[agent]
initial_state = "ready"
ring_timeout_seconds = 60
TOML
  "$CLI" demo-peer --listen 127.0.0.1:5070 --interval 10 < /dev/null > "$work/demo.log" 2>&1 &
  echo "Demo contact center on 127.0.0.1:5070 (a call every 10 s while you are idle)."
  echo "Parley (headless) is starting; type {\"cmd\":\"quit\"} or Ctrl-D to stop."
  echo "Try {\"cmd\":\"answer\",\"call\":\"c1\"} and {\"cmd\":\"hangup\",\"call\":\"c1\"}."
  RUST_LOG=${RUST_LOG:-warn} exec "$CLI" agent --config "$work/demo.toml"
fi

(cd ui && npm run build)
cargo build -p parley
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "No display. Run it inside a desktop session, under Xvfb (xvfb-run -a $0), or try:"
  echo "  $0 --headless"
  exit 1
fi
exec target/debug/parley
