#!/usr/bin/env bash
# Draws Parley's icons with ImageMagick (apt: imagemagick): the app icon (a headset on a
# blue tile) and the tray icons, one colour per agent state. The PNGs are committed; run
# this again only to change them.
set -euo pipefail
cd "$(dirname "$0")/../src-tauri/icons"
app() {
  local size=$1 out=$2
  convert -size 512x512 xc:none \
    -fill '#1f4e8c' -draw 'roundrectangle 16,16 496,496 96,96' \
    -fill white -draw 'circle 256,270 256,124' \
    -fill '#1f4e8c' -draw 'circle 256,270 256,158' -draw 'rectangle 96,270 416,420' \
    -fill white \
    -draw 'roundrectangle 92,236 172,372 28,28' \
    -draw 'roundrectangle 340,236 420,372 28,28' \
    -stroke white -strokewidth 18 -draw 'line 380,372 300,432' \
    -stroke none -draw 'circle 282,438 282,460' \
    -resize "${size}x${size}" "PNG32:$out"
}
app 512 icon.png
app 128 128x128.png
app 32 32x32.png
tray() {
  local colour=$1 out=$2
  convert -size 64x64 xc:none \
    -fill "$colour" -stroke '#1b1b1b' -strokewidth 4 -draw 'circle 32,32 32,6' \
    "PNG32:$out"
}
tray '#2e9e4f' tray-ready.png
tray '#e0a100' tray-not-ready.png
tray '#d13b3b' tray-on-call.png
tray '#8a8f98' tray-offline.png
