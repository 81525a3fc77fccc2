#!/usr/bin/env bash
# bpftool 7.5 (bookworm-backports) for bench/bench_cli.py, unpacked into build/bench
# without installing it (the system's bpftool 7.1 stays). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=build/bench/bpftool-7.5
[ -x "$dest/usr/sbin/bpftool" ] && exit 0
src=/etc/apt/sources.list.d/bookworm-backports.sources
if [ ! -f "$src" ]; then
  printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\n' > "$src"
  apt-get update -qq
fi
tmp=$(mktemp -d)
(cd "$tmp" && apt-get download -qq -t bookworm-backports bpftool 2>/dev/null)
mkdir -p "$dest"
dpkg-deb -x "$tmp"/bpftool_*.deb "$dest"
rm -rf "$tmp"
"$dest/usr/sbin/bpftool" version | head -1
