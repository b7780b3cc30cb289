#!/usr/bin/env bash
# Renders resources/cpdesk.svg to the PNG sizes desktops ask for (hicolor theme layout)
# and to cpdesk.ico for Windows. The PNGs and the .ico are committed, so a build needs
# no renderer; run this after changing the SVG (needs librsvg2-bin and ImageMagick).
set -euo pipefail
cd "$(dirname "$0")/../resources"
for size in 16 24 32 48 64 128 256 512; do
  mkdir -p "icons/hicolor/${size}x${size}/apps"
  rsvg-convert -w "$size" -h "$size" cpdesk.svg -o "icons/hicolor/${size}x${size}/apps/cpdesk.png"
done
mkdir -p icons/hicolor/scalable/apps
cp cpdesk.svg icons/hicolor/scalable/apps/cpdesk.svg
# -strip keeps the .ico byte-identical from run to run.
convert $(for s in 16 24 32 48 64 256; do echo "icons/hicolor/${s}x${s}/apps/cpdesk.png"; done) \
  -strip cpdesk.ico
# PNGs: drop the text chunks some renderers add (dates), so re-rendering changes nothing.
for f in icons/hicolor/*/apps/cpdesk.png; do
  convert "$f" -strip -define png:exclude-chunks=date,time "$f"
done
