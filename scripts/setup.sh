#!/usr/bin/env bash
# Installs everything pybpfman needs on a fresh Debian bookworm machine (as root):
# apt packages, a virtualenv with the pinned Python deps, bpffs and tracefs mounts.
# Idempotent: a second run changes nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PKGS=(clang llvm libbpf-dev libbpf1 bpftool iproute2 xdp-tools make python3-venv)
APT_PKGS+=(docker-registry)  # a real OCI registry for tests/test_images.py (run by the tests, not as a service)
APT_PKGS+=(systemtap-sdt-dev)  # <sys/sdt.h>: the USDT probes of the binary tests/test_multi.py builds
APT_PKGS+=(systemd)  # systemd-analyze, systemd-socket-activate: tests of the shipped units (dist/systemd)
APT_PKGS+=(mmdebstrap systemd-container)  # the node image's root, run under systemd-nspawn (dist/image)
missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! mountpoint -q /sys/fs/bpf; then
  mount -t bpf bpf /sys/fs/bpf
fi
if [ ! -d /sys/kernel/tracing/events ]; then
  mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null || true
fi
if [ ! -d /sys/kernel/debug/tracing ] && ! mountpoint -q /sys/kernel/debug; then
  mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null || true
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/pip install -q --disable-pip-version-check -e '.[dev]'
echo "setup: done"
