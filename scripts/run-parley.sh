#!/usr/bin/env bash
# Installs what is missing, builds Parley and runs it in demo mode: the demo contact
# center on loopback offers calls from sample customers to the agent.
#
# The desktop window is not built yet (it is the next issue); until then this runs the
# headless agent, `parley-cli`, in this terminal. Type JSON commands, one per line, e.g.
#   {"cmd":"answer","call":"c1"}   {"cmd":"hold","call":"c1"}   {"cmd":"hangup","call":"c1"}
#   {"cmd":"dial","to":"+4930123456"}   {"cmd":"set_state","state":"not_ready","reason":"Break"}
#   {"cmd":"quit"}
# Events appear as JSON lines; docs/headless.md lists them all.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
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
RUST_LOG=${RUST_LOG:-warn} "$CLI" agent --config "$work/demo.toml"
