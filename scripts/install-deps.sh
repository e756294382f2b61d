#!/usr/bin/env bash
# Installs what Parley needs to build, run and test on Debian 12, and nothing that is
# already there. Safe to run again. Uses sudo when not root.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# Build: a C toolchain for crates with C parts; the desktop shell's GTK/WebKit stack
# (Tauri 2 on Linux); ALSA's headers for cpal (which also speaks PulseAudio, in Rust);
# Node.js for the UI (Debian's, when the machine has none).
BUILD=(build-essential pkg-config libssl-dev libasound2-dev
       libwebkit2gtk-4.1-dev libxdo-dev libayatana-appindicator3-dev librsvg2-dev)
command -v node >/dev/null 2>&1 || BUILD+=(nodejs npm)
# Test rig and demo (DESIGN §9): SIP peers, PulseAudio null sinks for baresip's audio,
# the Secret Service for keychain tests, dnsmasq for DNS SRV failover tests, xdg-open
# (how Parley opens the browser for the Teams sign-in) and curl as the tests' browser.
RIG=(kamailio kamailio-tls-modules baresip sip-tester sipsak
     pulseaudio pulseaudio-utils libasound2-plugins alsa-utils
     gnome-keyring dbus dbus-user-session libsecret-tools
     dnsmasq-base openssl procps python3 xdg-utils curl
     xvfb xauth webkit2gtk-driver)

missing=()
for p in "${BUILD[@]}" "${RIG[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "installing the Rust toolchain (rustup)"
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c clippy,rustfmt
  # shellcheck disable=SC1091
  . "$HOME/.cargo/env"
fi
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "installing cargo-nextest"
  cargo install cargo-nextest --locked
fi
# The WebDriver bridge between the tests and the app's WebKit window.
if ! command -v tauri-driver >/dev/null 2>&1; then
  echo "installing tauri-driver"
  cargo install tauri-driver --version 2.1.0 --locked
fi
# The UI's packages, as locked. `npm install` rather than `npm ci`: the npm registry this
# machine reaches lacks some other platforms' optional packages (rollup's native
# builds), which `npm ci` counts as a lock out of sync; the ones for this platform are there.
if [ ! -d ui/node_modules ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
  echo "installing the UI's npm packages"
  (cd ui && npm install --no-audit --no-fund)
fi
