#!/bin/bash
# Bench-only peers for bench/bench_ringbuf.py (idempotent; not part of `make setup`):
#  - bcc (python3-bpfcc, the system Python's package) with kernel headers it can
#    compile against: Debian's 6.1 headers linked as this kernel's build/source dirs;
#  - the C libbpf consumer bench/rb_consumer.c, built with gcc against libbpf-dev.
set -euo pipefail
cd "$(dirname "$0")"

need=()
dpkg -s python3-bpfcc >/dev/null 2>&1 || need+=(python3-bpfcc)
dpkg -s linux-headers-amd64 >/dev/null 2>&1 || need+=(linux-headers-amd64)
dpkg -s libbpf-dev >/dev/null 2>&1 || need+=(libbpf-dev)
command -v gcc >/dev/null || need+=(gcc)
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# bcc looks for headers under /lib/modules/$(uname -r)/{build,source}
mods=/lib/modules/$(uname -r)
hdr=$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -1)
common=$(ls -d /usr/src/linux-headers-*-common 2>/dev/null | sort -V | tail -1)
if [ -n "$hdr" ] && [ -n "$common" ]; then
    mkdir -p "$mods"
    [ -e "$mods/build" ] || ln -s "$hdr" "$mods/build"
    [ -e "$mods/source" ] || ln -s "$common" "$mods/source"
fi

mkdir -p ../build/bench
if [ ! -x ../build/bench/rb_consumer ] || [ rb_consumer.c -nt ../build/bench/rb_consumer ]; then
    gcc -O2 -Wall -o ../build/bench/rb_consumer rb_consumer.c -lbpf
fi
