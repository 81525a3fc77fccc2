"""Stock Debian kernels for the VM tests: fetched (cached in /var/cache/pybpfman/vm), unpacked
into build/vm/.

``prepare("6.1")`` downloads the kernel package (``apt-get download``, no
install), unpacks it, extracts the uncompressed ELF ``vmlinux`` from the
bzImage (QEMU boots it directly through its PVH note, faster than the
bzImage under emulation) and builds the guest's initrd with the modules it
needs. The result is reused until the package version or the inputs change.
"""

from __future__ import annotations

import hashlib
import json
import lzma
import os
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import initrd

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "build" / "vm"
# the .deb downloads outlive a clone (CI runs in a fresh one on the same machine)
DOWNLOADS = Path(os.environ.get("PYBPFMAN_VM_CACHE", "/var/cache/pybpfman/vm"))

# short name -> Debian (meta)package; the metapackage depends on the concrete image
KERNELS = {"6.1": "linux-image-amd64", "6.12": "linux-image-6.12-amd64"}

# loaded by the guest's init, in dependency order (built-in ones are skipped)
BOOT_MODULES = ["virtio_pci", "9pnet_virtio", "9p", "overlay"]
TEST_MODULES = ["veth", "sch_ingress", "cls_bpf"]  # no modprobe in the guest: preload


class PrepareError(Exception):
    """A kernel could not be fetched or unpacked (one-line message)."""


@dataclass(frozen=True)
class Kernel:
    name: str  # "6.1"
    package: str  # linux-image-6.1.0-56-amd64
    version: str  # 6.1.192-2
    release: str  # 6.1.0-56-amd64 (uname -r in the guest)
    vmlinux: Path
    initrd: Path


def _run(*cmd: str, cwd: Path | None = None) -> str:
    try:
        p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError as e:
        raise PrepareError(f"{cmd[0]} not found: run vm/setup.sh") from e
    if p.returncode != 0:
        last = (p.stderr.strip().splitlines() or ["?"])[-1]
        raise PrepareError(f"{' '.join(cmd)} failed: {last}")
    return p.stdout


def resolve(meta: str) -> tuple[str, str]:
    """(concrete package, candidate version) for a kernel metapackage, from apt's lists."""
    for attempt in range(2):
        try:
            deps = _run("apt-cache", "depends", "--no-recommends", "--no-suggests", meta)
            break
        except PrepareError:
            if attempt:
                raise
            _run("apt-get", "update", "-qq")  # a fresh machine may have no lists yet
    names = [
        line.split(":", 1)[1].strip()
        for line in deps.splitlines()
        if line.strip().startswith("Depends:") and "linux-image-" in line
    ]
    if not names:
        raise PrepareError(f"{meta} depends on no linux-image package")
    show = _run("apt-cache", "show", "--no-all-versions", names[0])
    version = next(
        (
            line.split(":", 1)[1].strip()
            for line in show.splitlines()
            if line.startswith("Version:")
        ),
        "",
    )
    if not version:
        raise PrepareError(f"apt-cache show {names[0]}: no Version")
    return names[0], version


def bzimage_payload(image: bytes) -> bytes:
    """The compressed kernel inside a bzImage (boot protocol >= 2.08 header fields)."""
    if image[0x202:0x206] != b"HdrS":
        raise PrepareError("not a bzImage (no HdrS setup header)")
    (protocol,) = struct.unpack_from("<H", image, 0x206)
    if protocol < 0x208:
        raise PrepareError(f"boot protocol {protocol:#x} has no payload fields")
    setup_sects = image[0x1F1] or 4
    offset, length = struct.unpack_from("<II", image, 0x248)
    start = (setup_sects + 1) * 512 + offset
    return image[start : start + length]


def decompress_payload(payload: bytes) -> bytes:
    """xz (6.1) or zstd (6.12); the kernel build appends the size (4 bytes) to both."""
    if payload.startswith(b"\xfd7zXZ\x00"):
        return lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(payload)
    if payload.startswith(b"\x28\xb5\x2f\xfd"):
        try:
            p = subprocess.run(
                ["zstd", "-dc"], input=payload[:-4], capture_output=True, check=False
            )
        except FileNotFoundError as e:
            raise PrepareError("zstd not found: run vm/setup.sh") from e
        if p.returncode != 0:
            raise PrepareError(f"zstd: {p.stderr.decode(errors='replace').strip()}")
        return p.stdout
    raise PrepareError(f"unknown kernel compression (magic {payload[:6].hex()})")


def modinfo(data: bytes) -> dict[str, list[str]]:
    """A kernel module's .modinfo section (key=value strings) from its ELF64 image."""
    if data[:4] != b"\x7fELF" or data[4] != 2:
        raise PrepareError("not an ELF64 module")
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)

    def section(i: int) -> tuple[int, int, int]:
        name, _type, _flags, _addr, off, size = struct.unpack_from(
            "<IIQQQQ", data, shoff + i * shentsize
        )
        return name, off, size

    _, stroff, _ = section(shstrndx)
    out: dict[str, list[str]] = {}
    for i in range(shnum):
        name, off, size = section(i)
        if data[stroff + name : data.index(b"\0", stroff + name)] != b".modinfo":
            continue
        for entry in data[off : off + size].split(b"\0"):
            key, sep, value = entry.decode(errors="replace").partition("=")
            if sep:
                out.setdefault(key, []).append(value)
    return out


def read_module(path: Path) -> bytes:
    data = path.read_bytes()
    if path.suffix == ".xz":
        return lzma.decompress(data)
    if path.suffix == ".zst":
        return subprocess.run(["zstd", "-dc", str(path)], capture_output=True, check=True).stdout
    return data


def module_closure(moddir: Path, wanted: list[str]) -> list[tuple[str, bytes]]:
    """(name, uncompressed .ko) for ``wanted`` and their dependencies, dependencies first."""

    def norm(n: str) -> str:
        return n.replace("-", "_")

    paths = {}
    for line in (moddir / "modules.order").read_text().splitlines():
        base = Path(line).name.split(".ko")[0]
        paths[norm(base)] = line
    builtin = {
        norm(Path(line).name.split(".ko")[0])
        for line in (moddir / "modules.builtin").read_text().splitlines()
    }
    order: list[tuple[str, bytes]] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        name = norm(name)
        if name in seen or name in builtin:
            return
        seen.add(name)
        if name not in paths:
            raise PrepareError(f"module {name} is neither built in nor in modules.order")
        rel = moddir / paths[name]
        found = [p for p in rel.parent.glob(rel.name + "*") if p.name.split(".ko")[0] == rel.stem]
        if not found:
            raise PrepareError(f"module file {rel} missing")
        data = read_module(found[0])
        for dep in modinfo(data).get("depends", []):
            for d in filter(None, dep.split(",")):
                visit(d)
        order.append((name, data))

    for w in wanted:
        visit(w)
    return order


def _inputs_hash() -> str:
    h = hashlib.sha256()
    for p in (Path(__file__), Path(initrd.__file__), Path(__file__).with_name("init")):
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def prepare(name: str, log: bool = True) -> Kernel:
    if name not in KERNELS:
        raise PrepareError(f"unknown kernel {name!r} (have: {', '.join(KERNELS)})")
    out = CACHE / name
    stamp = out / "ready.json"
    try:
        package, version = resolve(KERNELS[name])
    except PrepareError:
        if stamp.exists():  # offline with a cached kernel: use it
            package, version = "", ""
        else:
            raise
    want = {"package": package, "version": version, "inputs": _inputs_hash()}
    if stamp.exists():
        have = json.loads(stamp.read_text())
        if all(have.get(k) == v for k, v in want.items() if v):
            return Kernel(name, have["package"], have["version"], have["release"],
                          out / "vmlinux", out / "initrd.cpio")  # fmt: skip
    dl = DOWNLOADS
    dl.mkdir(parents=True, exist_ok=True)
    deb = next(dl.glob(f"{package}_*.deb"), None)
    if deb is None or version.split(":")[-1] not in deb.name:
        if log:
            print(f"vmtest: downloading {package} {version}", flush=True)
        for old in dl.glob(f"{package}_*.deb"):
            old.unlink()
        get = ("apt-get", "download", "-o", "APT::Sandbox::User=root", f"{package}={version}")
        try:
            _run(*get, cwd=dl)
        except PrepareError:  # stale lists: the mirror dropped that version
            _run("apt-get", "update", "-qq")
            _run(*get, cwd=dl)
        deb = next(dl.glob(f"{package}_*.deb"))
    if log:
        print(f"vmtest: unpacking {deb.name}", flush=True)
    tree = out / "root"
    shutil.rmtree(out, ignore_errors=True)
    tree.mkdir(parents=True)
    _run("dpkg-deb", "-x", str(deb), str(tree))
    (release,) = os.listdir(tree / "lib" / "modules")
    image = (tree / "boot" / f"vmlinuz-{release}").read_bytes()
    vmlinux = decompress_payload(bzimage_payload(image))
    if vmlinux[:4] != b"\x7fELF":
        raise PrepareError(f"{name}: the decompressed kernel is not an ELF vmlinux")
    (out / "vmlinux").write_bytes(vmlinux)
    modules = module_closure(tree / "lib" / "modules" / release, BOOT_MODULES + TEST_MODULES)
    initrd.build(out / "initrd.cpio", Path(__file__).with_name("init"), modules)
    shutil.rmtree(tree)
    stamp.write_text(json.dumps({**want, "release": release}) + "\n")
    return Kernel(name, package, version, release, out / "vmlinux", out / "initrd.cpio")
