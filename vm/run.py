"""``make vmtest``: the kernel-dependent tests inside stock Debian kernels under QEMU.

For each kernel (default: 6.1 and 6.12) this boots the guest with software
emulation (``-accel tcg``: this host's /dev/kvm cannot run stock kernels), the
host's root shared read-only over virtio-9p, and runs a command chrooted into
it: by default pytest on the tests marked ``kernel_feature`` (collected on the
host, so the guest imports only their modules). The guest's console streams
here; the exit status is that of the command in the guest (non-zero if any
kernel failed, could not boot or timed out).

    python vm/run.py                      # both kernels, the marked tests
    python vm/run.py -k 6.12 -- -k kprobe  # extra pytest arguments after --
    python vm/run.py --shell 'uname -r; ls /sys/fs/bpf'
"""

from __future__ import annotations

import argparse
import fcntl
import os
import shlex
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import kernel

ROOT = kernel.ROOT
QEMU = "qemu-system-x86_64"
MARKER = "kernel_feature"
# what every stock kernel we boot has; checked before the tests so that a probe
# wrongly saying "unavailable" cannot turn the VM run into the host's refusal branch
REQUIRED_FEATURES = ["kprobe", "trampolines", "freplace"]
KERNEL_ARGS = "console=ttyS0 panic=-1 quiet mitigations=off"
# One host thread runs every vCPU in turn (``thread=single``). With multi-threaded
# TCG a vCPU can go on executing code that another vCPU is patching: the kernel's
# text_poke (the XDP bpf_dispatcher trampoline rewritten on every XDP attach) then
# faulted in softirq on 6.12 ("RIP: bpf_dispatcher_xdp_func+0xa", mid-instruction)
# and the guest panicked. Round-robin vCPUs see code changes at once, as hardware does.


def guest_python() -> str:
    """The venv's interpreter by a path whose target is the real binary, not a pyenv shim."""
    venv_python = ROOT / ".venv" / "bin" / "python"
    real = venv_python.resolve()
    if not real.is_file():
        raise SystemExit(f"vmtest: {venv_python} missing: run `make setup`")
    with real.open("rb") as f:
        if f.read(4) != b"\x7fELF":
            raise SystemExit(f"vmtest: {venv_python} resolves to a script ({real}), not Python")
    return str(venv_python)  # the venv path (pyvenv.cfg applies), its target the real binary


def collect(pytest_args: list[str]) -> list[str]:
    """Node ids of the marked tests, collected on the host (fast there, slow in the guest)."""
    env = dict(os.environ, PYBPFMAN_SKIP_BUILD="1", PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    cmd = [guest_python(), "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
           "-p", "pytest_timeout", "-m", MARKER, *pytest_args, "tests"]  # fmt: skip
    p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    ids = [line for line in p.stdout.splitlines() if "::" in line]
    if p.returncode != 0 or not ids:
        sys.stdout.write(p.stdout[-3000:] + p.stderr[-3000:])
        raise SystemExit(f"vmtest: collecting the tests marked {MARKER} failed (rc {p.returncode})")
    return ids


def guest_script(k: kernel.Kernel, command: str) -> str:
    py = guest_python()
    env = {
        "PATH": f"{ROOT}/.venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": "/root",
        "TERM": "dumb",
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        "PYBPFMAN_SKIP_BUILD": "1",
        "VMTEST_KERNEL": k.name,
        "VMTEST_OUT": "/run/vmtest",
    }
    check = (
        "from bpfman import features as f; a = {x.name: x.available for x in f.all()}; "
        "print('vmtest: features:', "
        "' '.join(n + '+-'[not v] for n, v in a.items() if ':' not in n)); "
        f"miss = [n for n in {REQUIRED_FEATURES!r} if not a[n]]; "
        "miss and print('vmtest: features unavailable in the guest:', miss); exit(bool(miss))"
    )
    lines = ["set -e", f"cd {shlex.quote(str(ROOT))}"]
    lines += [f"export {n}={shlex.quote(v)}" for n, v in env.items()]
    lines += [f"{shlex.quote(py)} -c {shlex.quote(check)}", command]
    return "\n".join(lines) + "\n"


def qemu_cmd(k: kernel.Kernel, share: Path, memory: str, smp: int, append: str) -> list[str]:
    fs = "security_model=none"
    return [
        QEMU, "-accel", "tcg,thread=single", "-cpu", "max", "-smp", str(smp), "-m", memory,
        "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
        "-kernel", str(k.vmlinux), "-initrd", str(k.initrd),
        "-append", f"{KERNEL_ARGS} {append}".strip(),
        "-chardev", "stdio,id=con,signal=off", "-serial", "chardev:con",
        "-fsdev", f"local,id=hostroot,path=/,{fs},readonly=on,multidevs=remap",
        "-device", "virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot",
        "-fsdev", f"local,id=vmout,path={share},{fs}",
        "-device", "virtio-9p-pci,fsdev=vmout,mount_tag=vmout",
        "-fsdev", f"local,id=repo,path={ROOT},{fs},readonly=on,multidevs=remap",
        "-device", "virtio-9p-pci,fsdev=repo,mount_tag=repo",
    ]  # fmt: skip


class Console:
    """Guest output to our stdout, a line at a time, each line tagged with its kernel."""

    lock = threading.Lock()

    def __init__(self, name: str) -> None:
        self.tag = f"[{name}] ".encode()

    def write(self, line: bytes) -> None:
        parts = [p for p in line.rstrip(b"\r\n").split(b"\r") if p.strip()] or [b""]
        with self.lock:  # a lone \r (pytest's progress) ends a line too
            sys.stdout.buffer.write(b"".join(self.tag + p + b"\n" for p in parts))
            sys.stdout.buffer.flush()

    def say(self, text: str) -> None:
        self.write(f"vmtest: {text}".encode())


def boot(k: kernel.Kernel, command: str, args: argparse.Namespace) -> int:
    """Runs ``command`` in the guest, streaming its console; its exit status (or 124, 125)."""
    out = Console(k.name)
    out.say(f"booting {k.package} ({k.version})")
    share = kernel.CACHE / f"run-{k.name}"
    shutil.rmtree(share, ignore_errors=True)
    share.mkdir(parents=True)
    (share / "cmd.sh").write_text(guest_script(k, command))
    (share / "repo_path").write_text(str(ROOT))
    proc = subprocess.Popen(
        qemu_cmd(k, share, args.memory, args.smp, args.append),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    timed_out = threading.Event()

    def kill() -> None:
        timed_out.set()
        proc.kill()

    timer = threading.Timer(args.timeout, kill)
    timer.start()
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            out.write(line)
        proc.wait()
    finally:
        timer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if timed_out.is_set():
        out.say(f"timed out after {args.timeout:.0f} s: QEMU killed")
        return 124
    rc_file = share / "rc"
    if not rc_file.exists():
        out.say(f"the guest reported no exit status (QEMU rc {proc.returncode}: boot failure?)")
        return 125
    return int(rc_file.read_text().strip() or "125")


def run_one(name: str, command: str, args: argparse.Namespace) -> tuple[int, float]:
    t0 = time.monotonic()
    try:
        k = kernel.prepare(name)
    except kernel.PrepareError as e:
        Console(name).say(str(e))
        return 2, time.monotonic() - t0
    return boot(k, command, args), time.monotonic() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("-k", "--kernel", action="append", choices=list(kernel.KERNELS),
                    help="kernel to boot (repeatable; default: all)")  # fmt: skip
    ap.add_argument("-j", "--jobs", type=int, default=1, help="guests at once (default 1)")
    ap.add_argument("--timeout", type=float, default=600, help="seconds per kernel (default 600)")
    ap.add_argument("--memory", default="3G", help="guest memory (default 3G)")
    ap.add_argument("--smp", type=int, default=2, help="guest vCPUs (default 2)")
    ap.add_argument("--append", default="", help="extra kernel command-line arguments")
    ap.add_argument("--shell", help="run this shell command in the guest instead of the tests")
    ap.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = ap.parse_args(argv)
    if shutil.which(QEMU) is None:
        print(f"vmtest: {QEMU} not found: run vm/setup.sh (qemu-system-x86)", file=sys.stderr)
        return 2
    if args.shell is not None:
        command = args.shell
    else:
        ids = collect(args.pytest_args)
        print(f"vmtest: {len(ids)} tests marked {MARKER}", flush=True)
        pytest = [guest_python(), "-m", "pytest", "-v", "-rfEs", "-p", "no:cacheprovider",
                  "-p", "pytest_timeout", "-m", MARKER, *args.pytest_args, *ids]  # fmt: skip
        command = shlex.join(pytest)
    names = args.kernel or list(kernel.KERNELS)
    t0 = time.monotonic()
    kernel.CACHE.mkdir(parents=True, exist_ok=True)
    lock = os.open(kernel.CACHE / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(lock, fcntl.LOCK_EX)  # one vmtest at a time: they share build/vm
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = dict(
            zip(names, pool.map(lambda n: run_one(n, command, args), names), strict=True)
        )
    for name, (rc, secs) in results.items():
        print(f"vmtest: {name}: {'ok' if rc == 0 else f'FAILED (rc {rc})'} in {secs:.1f} s")
    print(f"vmtest: total {time.monotonic() - t0:.1f} s")
    return 0 if all(rc == 0 for rc, _ in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
