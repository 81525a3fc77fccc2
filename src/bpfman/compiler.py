"""``bpfman compile``: eBPF C sources to objects with the system's clang.

The recipe is the field's (libbpf-bootstrap, the project's Makefile):
``clang -O2 -g -target bpf -D__TARGET_ARCH_<arch>`` with libbpf's headers and
a ``vmlinux.h``. That header is made by ``bpftool btf dump ... format c`` from
the running kernel's BTF (``/sys/kernel/btf/vmlinux``), or from a BTF file or
``vmlinux`` ELF the user gives (objects for other kernels); a ready
``vmlinux.h`` is used as it is. Generated headers are cached by the SHA-256
of the BTF they come from, so a new kernel gets a new header.

Decisions (flags, names, what is missing) are pure functions; running clang
and bpftool is the only I/O besides the cache. Clang's diagnostics go to the
terminal as clang prints them; a failed compile leaves no object behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bpfman.errors import BpfError

KERNEL_BTF = "/sys/kernel/btf/vmlinux"
BTF_MAGIC = b"\x9f\xeb"  # 0xEB9F little-endian
ELF_MAGIC = b"\x7fELF"

# uname machine -> the __TARGET_ARCH_ word of libbpf's bpf_tracing.h
TARGET_ARCH = {
    "x86_64": "x86",
    "i686": "x86",
    "aarch64": "arm64",
    "armv7l": "arm",
    "s390x": "s390",
    "ppc64le": "powerpc",
    "ppc64": "powerpc",
    "riscv64": "riscv",
    "loongarch64": "loongarch",
    "mips64": "mips",
}
# uname machine -> Debian's multiarch triplet (its <asm/...> headers, for <linux/...> users)
MULTIARCH = {
    "x86_64": "x86_64-linux-gnu",
    "aarch64": "aarch64-linux-gnu",
    "s390x": "s390x-linux-gnu",
    "ppc64le": "powerpc64le-linux-gnu",
    "riscv64": "riscv64-linux-gnu",
    "armv7l": "arm-linux-gnueabihf",
}
# what is missing -> the Debian package that brings it
PACKAGES = {"clang": "clang", "bpftool": "bpftool", "bpf/bpf_helpers.h": "libbpf-dev"}
SYSTEM_INCLUDES = ("/usr/include", "/usr/local/include")
WARNINGS = ("-Wall", "-Wno-unused-function")


@dataclass(frozen=True)
class Request:
    """One ``bpfman compile`` run."""

    sources: Sequence[str]
    out_dir: str | None = None  # None: the current directory
    vmlinux: str | None = None  # BTF, vmlinux ELF or vmlinux.h; None: the running kernel's
    includes: Sequence[str] = ()
    defines: Sequence[str] = ()
    cache_dir: str | None = None
    machine: str = field(default_factory=lambda: os.uname().machine)


def missing(what: str) -> BpfError:
    return BpfError(f"{what} not found: install it (Debian package {PACKAGES[what]})")


def output_name(source: str, out_dir: str | None) -> str:
    """``x.bpf.c`` -> ``OUT/x.bpf.o`` (``x.c`` -> ``x.o``)."""
    base = os.path.basename(source)
    stem = base[:-2] if base.endswith(".c") else base
    return os.path.join(out_dir or ".", stem + ".o")


def target_arch(machine: str) -> str:
    try:
        return TARGET_ARCH[machine]
    except KeyError:
        raise BpfError(f"no eBPF target architecture known for machine {machine!r}") from None


def clang_args(req: Request, source: str, output: str, vmlinux_dir: str) -> list[str]:
    """The clang command line for one source (without the clang executable)."""
    args = ["-O2", "-g", "-target", "bpf", f"-D__TARGET_ARCH_{target_arch(req.machine)}"]
    args += [f"-I{vmlinux_dir}", *(f"-I{d}" for d in req.includes)]
    args += [f"-D{d}" for d in req.defines]
    multiarch = MULTIARCH.get(req.machine)
    if multiarch and os.path.isdir(f"/usr/include/{multiarch}"):
        args += ["-idirafter", f"/usr/include/{multiarch}"]
    return [*args, *WARNINGS, "-c", source, "-o", output]


def default_cache_dir() -> str:
    if os.geteuid() == 0:
        return "/var/cache/bpfman"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(base, "bpfman")


def _kind(path: str) -> str:
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except FileNotFoundError:
        raise BpfError(f"--vmlinux {path}: no such file") from None
    except IsADirectoryError:
        raise BpfError(f"--vmlinux {path}: is a directory") from None
    except PermissionError:
        raise BpfError(f"--vmlinux {path}: permission denied") from None
    if head[:2] == BTF_MAGIC or head == ELF_MAGIC:
        return "btf"
    return "header"


def _digest(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def vmlinux_dir(req: Request) -> str:
    """A directory holding the ``vmlinux.h`` to compile against (made and cached if needed)."""
    source = req.vmlinux or KERNEL_BTF
    if req.vmlinux is None and not os.path.exists(KERNEL_BTF):
        raise BpfError(f"{KERNEL_BTF} not found: the kernel has no BTF; give --vmlinux FILE")
    if _kind(source) == "header":
        if os.path.basename(source) == "vmlinux.h":
            return os.path.dirname(source) or "."
        return _cached(req, source, lambda out: shutil.copyfile(source, out))
    bpftool = shutil.which("bpftool") or next(
        (p for p in ("/usr/sbin/bpftool", "/sbin/bpftool") if os.access(p, os.X_OK)), None
    )
    return _cached(req, source, lambda out: _dump_btf(bpftool, source, out))


def _dump_btf(bpftool: str | None, source: str, out: str) -> None:
    if bpftool is None:
        raise missing("bpftool")
    with open(out, "wb") as f:
        p = subprocess.run(
            [bpftool, "btf", "dump", "file", source, "format", "c"],
            stdout=f, stderr=subprocess.PIPE, text=False,
        )  # fmt: skip
    if p.returncode != 0:
        reason = p.stderr.decode(errors="replace").strip().splitlines()
        raise BpfError(f"cannot make vmlinux.h from {source}: {reason[-1] if reason else '?'}")


def _cached(req: Request, source: str, make: Callable[[str], object]) -> str:
    """``CACHE/vmlinux/<sha256 of source>/vmlinux.h``, made by *make(path)* when absent."""
    directory = os.path.join(req.cache_dir or default_cache_dir(), "vmlinux", _digest(source))
    header = os.path.join(directory, "vmlinux.h")
    if os.path.isfile(header) and not os.path.islink(header):
        return directory
    os.makedirs(directory, mode=0o755, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".vmlinux.", dir=directory)
    os.close(fd)
    try:
        make(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, header)  # atomic: a concurrent compile sees all of it or nothing
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return directory


def check_headers(includes: Sequence[str], system: Sequence[str] = SYSTEM_INCLUDES) -> None:
    """libbpf's headers are in one of the include directories, or a clear error."""
    dirs = [*includes, *system]
    if not any(os.path.exists(os.path.join(d, "bpf", "bpf_helpers.h")) for d in dirs):
        raise missing("bpf/bpf_helpers.h")


def build(req: Request) -> list[str]:
    """Compile every source of *req*; returns the objects written.

    Clang's diagnostics go to stderr as clang prints them; a failure raises
    ``BpfError`` after it (earlier sources' objects stay, the failed one is
    not written).
    """
    clang = shutil.which("clang")
    if clang is None:
        raise missing("clang")
    for src in req.sources:
        if not os.path.isfile(src):
            raise BpfError(f"{src}: no such file")
    check_headers(req.includes)
    include = vmlinux_dir(req)
    if req.out_dir:
        os.makedirs(req.out_dir, exist_ok=True)
    written: list[str] = []
    for src in req.sources:
        out = output_name(src, req.out_dir)
        tmp = out + ".tmp"
        p = subprocess.run([clang, *clang_args(req, src, tmp, include)])
        if p.returncode != 0:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise BpfError(f"clang failed on {src} (exit {p.returncode})")
        os.replace(tmp, out)
        written.append(out)
    return written


__all__ = [
    "Request",
    "build",
    "check_headers",
    "clang_args",
    "output_name",
    "target_arch",
    "vmlinux_dir",
]
