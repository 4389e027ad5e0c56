#!/usr/bin/env bash
# Installs FedKit's system dependencies on Debian (idempotent: skips what is installed).
set -euo pipefail
packages=(libtorch-dev libyaml-dev zlib1g-dev libopenblas0-pthread dataset-fashion-mnist pkg-config)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "installing: ${missing[*]}"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
command -v swift >/dev/null || { echo "error: Swift 6 is required (https://swift.org/install)" >&2; exit 1; }
