#!/usr/bin/env bash
# Installs what `make vmtest` needs on the host (as root), idempotent: QEMU,
# a static busybox for the guest's init, and xz/zstd (the kernels' modules and
# images). The kernels themselves are fetched by vm/kernel.py into build/vm/.
set -euo pipefail

APT_PKGS=(qemu-system-x86 busybox-static xz-utils zstd)
missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "vm/setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
