#!/usr/bin/env bash
# Sets up, builds (release) and runs the quick-start experiment: every method side by side
# on Fashion-MNIST (from the Debian package), Dirichlet(0.1) over 20 clients.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build -c release --product exp
.build/release/exp run experiments/quickstart.yaml "$@"
