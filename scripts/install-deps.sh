#!/usr/bin/env bash
# Installs what Parley needs to build, run and test on Debian 12, and nothing that is
# already there. Safe to run again. Uses sudo when not root.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# Build: a C toolchain for crates with C parts.
BUILD=(build-essential pkg-config)
# Test rig and demo (DESIGN §9): SIP peers, PulseAudio null sinks for baresip's audio,
# the Secret Service for keychain tests, dnsmasq for DNS SRV failover tests.
RIG=(kamailio kamailio-tls-modules baresip sip-tester sipsak
     pulseaudio pulseaudio-utils libasound2-plugins alsa-utils
     gnome-keyring dbus dbus-user-session libsecret-tools
     dnsmasq-base openssl procps python3)

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
