#!/usr/bin/env bash
# docs/report.png: the quick start's report.html as headless Chromium draws it.
#
#   bash scripts/report-screenshot.sh                  # run the quick start (2 rounds, seeds 1,2), report, screenshot
#   bash scripts/report-screenshot.sh runs/quickstart  # report and screenshot runs that exist already
#
# Environment: SEEDS (default 1,2: two seeds show the bands and confidence intervals), ROUNDS (2),
# PNG (docs/report.png), SIZE (1200,2400). Installs Debian's chromium when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS=${SEEDS:-1,2}
ROUNDS=${ROUNDS:-2}
PNG=${PNG:-docs/report.png}
SIZE=${SIZE:-1200,2400}

if ! command -v chromium >/dev/null; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    apt-cache policy chromium
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends chromium
fi
swift build -c release --product exp
E=.build/release/exp

if [ $# -ge 1 ]; then
    DIR=$1
else
    bash scripts/setup.sh
    OUT=runs/report-screenshot
    nice -n 10 "$E" run experiments/quickstart.yaml --set federation.rounds="$ROUNDS" --seeds "$SEEDS" --out "$OUT"
    DIR=$OUT/quickstart
fi
"$E" report "$DIR"

# A fresh profile each time; Chromium's D-Bus and GPU complaints on a headless server are noise.
PROFILE=$(mktemp -d)
trap 'rm -rf "$PROFILE"' EXIT
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$PROFILE" \
    --window-size="$SIZE" --screenshot="$(realpath -m "$PNG")" "file://$(realpath "$DIR")/report.html" 2>/dev/null
test -s "$PNG"
echo "wrote $PNG from $DIR/report.html"
