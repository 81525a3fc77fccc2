"""pybpfman's node image, built without a container engine and without pulling a base image.

    python3 dist/image/nodeimage.py wheels          # build/image/wheels/: pybpfman + its deps
    python3 dist/image/nodeimage.py build           # the image's blobs under build/image/
    python3 dist/image/nodeimage.py push HOST/NAME:TAG

Two layers. The base is Debian bookworm made by ``mmdebstrap`` (variant
minbase plus ``packages.txt``) from Debian's archive, with a virtualenv
``/opt/bpfman`` holding pybpfman's dependencies; it takes minutes, so it is
cached under ``build/image/base-<key>/``, the key being the SHA-256 of the
package list, the dependency wheels and the recipe below. The app layer is
pybpfman's wheel installed into that virtualenv (``bpfman`` on PATH at
``/usr/local/bin``), made in seconds on an overlayfs over the unpacked base
whose upper directory is the layer. The image's entrypoint is ``bpfman
serve``; it is pushed with pybpfman's own registry client
(``bpfman.images.registry``). ``Containerfile`` beside this file builds the
same image with docker or podman.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
BUILD = ROOT / "build" / "image"
SUITE = "bookworm"
VENV = "/opt/bpfman"
ENTRYPOINT = ["/usr/local/bin/bpfman", "serve"]
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
KEEP = 2  # cached bases kept (the newest; each is a few hundred MB)
PIP = "-q --no-index --no-cache-dir --disable-pip-version-check"
BASE_HOOKS = [  # mmdebstrap --customize-hook: "$1" is the root
    f'chroot "$1" python3 -m venv {VENV}',
    f'chroot "$1" sh -c "{VENV}/bin/pip install {PIP} /tmp/wheels/*.whl"',
    f'rm -rf "$1/tmp/wheels" && ln -s {VENV}/bin/bpfman "$1/usr/local/bin/bpfman"',
    'rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin',
]
EXCLUDED = ("/usr/share/doc/*", "/usr/share/man/*", "/usr/share/locale/*")


def packages() -> list[str]:
    """The apt packages of ``packages.txt`` (comments and blank lines left out)."""
    lines = (HERE / "packages.txt").read_text().splitlines()
    return [w for line in lines if (w := line.split("#")[0].strip())]


def dependencies() -> list[str]:
    """pybpfman's pinned run-time dependencies (pyproject.toml)."""
    import tomllib

    with open(ROOT / "pyproject.toml", "rb") as f:
        return list(tomllib.load(f)["project"]["dependencies"])


def wheels(out: Path = BUILD / "wheels") -> tuple[Path, list[Path]]:
    """pybpfman's wheel (with the compiled dispatchers: ``make bpf`` first) and its deps'.

    The dependencies' wheels are fetched again only when the pins change.
    """
    pip = [sys.executable, "-m", "pip", "wheel", "-q", "--disable-pip-version-check"]
    deps_dir = out / "deps"
    deps = dependencies()
    stamp = deps_dir / "dependencies.txt"
    if not stamp.exists() or stamp.read_text().splitlines() != deps:
        shutil.rmtree(deps_dir, ignore_errors=True)
        deps_dir.mkdir(parents=True)
        subprocess.run([*pip, "-w", str(deps_dir), *deps], check=True)
        stamp.write_text("\n".join(deps) + "\n")
    app_dir = out / "app"
    shutil.rmtree(app_dir, ignore_errors=True)
    subprocess.run(
        [*pip, "--no-deps", "--no-build-isolation", "-w", str(app_dir), str(ROOT)],
        check=True,
        env=dict(os.environ, SOURCE_DATE_EPOCH="315532800"),  # the same wheel from the same tree
    )
    (app,) = app_dir.glob("pybpfman-*.whl")
    return app, sorted(deps_dir.glob("*.whl"))


def base_key(pkgs: list[str], dep_wheels: list[Path]) -> str:
    h = hashlib.sha256("\n".join([SUITE, *pkgs, *BASE_HOOKS, *EXCLUDED]).encode())
    for w in dep_wheels:
        h.update(w.name.encode())
        h.update(hashlib.sha256(w.read_bytes()).digest())
    return h.hexdigest()[:16]


def make_base(out_tar: Path, pkgs: list[str], dep_wheels: list[Path]) -> None:
    """mmdebstrap the base root (as a tar) with the dependencies in a virtualenv."""
    tmp = out_tar.with_name(f"partial-{out_tar.name}")  # mmdebstrap: *.tar -> a tar
    quoted = " ".join(f'"{w}"' for w in dep_wheels)
    hooks = ['mkdir -p "$1/tmp/wheels"', f"copy-in {quoted} /tmp/wheels", *BASE_HOOKS]
    cmd = ["mmdebstrap", "--variant=minbase", "--format=tar", "--quiet"]
    cmd.append(f"--include={','.join(pkgs)}")
    cmd += [f"--dpkgopt=path-exclude={path}" for path in EXCLUDED]
    cmd += [f"--customize-hook={h}" for h in hooks]
    cmd += [SUITE, str(tmp)]
    subprocess.run(cmd, check=True, env=dict(os.environ, SOURCE_DATE_EPOCH="0"))
    tmp.rename(out_tar)


def make_app_layer(base_root: Path, app_wheel: Path, out_tar: Path) -> None:
    """pybpfman's wheel installed over the base: the upper dir of an overlayfs, as a tar."""
    with tempfile.TemporaryDirectory(prefix="nodeimage-", dir=BUILD) as tmp:
        upper, work, merged = (Path(tmp) / d for d in ("upper", "work", "merged"))
        for d in (upper, work, merged):
            d.mkdir()
        opts = f"lowerdir={base_root},upperdir={upper},workdir={work}"
        subprocess.run(["mount", "-t", "overlay", "overlay", "-o", opts, str(merged)], check=True)
        try:
            shutil.copy(app_wheel, merged / "tmp" / app_wheel.name)
            pip = f"{VENV}/bin/pip install {PIP} --no-deps /tmp/{app_wheel.name}"
            subprocess.run(["chroot", str(merged), "sh", "-c", pip], check=True)
            (merged / "tmp" / app_wheel.name).unlink()
        finally:
            subprocess.run(["umount", str(merged)], check=True)
        for path in upper.rglob("*"):
            st = path.lstat()
            if (st.st_mode & 0o170000) == 0o020000 and st.st_rdev == 0:
                raise SystemExit(f"{path}: installing the wheel removed a base file")
        subprocess.run(
            ["tar", "--numeric-owner", "--sort=name", "--mtime=@0", "-cf", str(out_tar),
             "-C", str(upper), "."],
            check=True,
        )  # fmt: skip


@dataclass(frozen=True)
class Image:
    """The image's blobs, as the registry stores them."""

    manifest: bytes
    config: bytes
    layers: tuple[bytes, ...]


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _canonical(doc: object) -> bytes:
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()


def gz(tar: Path) -> Path:
    """*tar* gzipped beside it (made once)."""
    out = tar.with_name(tar.name + ".gz")
    if not out.exists():
        tmp = out.with_name("partial-" + out.name)
        tmp.write_bytes(gzip.compress(tar.read_bytes(), compresslevel=6, mtime=0))
        tmp.rename(out)
    return out


def pack(layer_tars: list[Path], version: str) -> Image:
    """The OCI image of the layer tars (gzipped, in order), entrypoint ``bpfman serve``."""
    layers = tuple(gz(t).read_bytes() for t in layer_tars)
    config = _canonical(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {
                "Entrypoint": ENTRYPOINT,
                "Env": [PATH_ENV],
                "Labels": {
                    "org.opencontainers.image.title": "pybpfman",
                    "org.opencontainers.image.version": version,
                    "org.opencontainers.image.description": "bpfman daemon (pybpfman) node image",
                },
            },
            "rootfs": {"type": "layers", "diff_ids": [digest(t.read_bytes()) for t in layer_tars]},
            "history": [
                {"created_by": f"mmdebstrap {SUITE} + pybpfman's dependencies"},
                {"created_by": f"pip install pybpfman {version}"},
            ][: len(layer_tars)],
        }
    )
    manifest = _canonical(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": digest(config), "size": len(config)},
            "layers": [
                {"mediaType": OCI_LAYER, "digest": digest(data), "size": len(data)}
                for data in layers
            ],
        }
    )
    return Image(manifest, config, layers)


def base(pkgs: list[str], dep_wheels: list[Path], log: bool = True) -> Path:
    """The cached base (``rootfs.tar`` and its unpacked ``root/``), made if missing."""
    cache = BUILD / f"base-{base_key(pkgs, dep_wheels)}"
    tar, root = cache / "rootfs.tar", cache / "root"
    if not tar.exists():
        cache.mkdir(parents=True, exist_ok=True)
        if log:
            print(f"nodeimage: mmdebstrap {SUITE} into {tar} (minutes)", file=sys.stderr)
        make_base(tar, pkgs, dep_wheels)
        _prune(keep=cache)
    elif log:
        print(f"nodeimage: base cached in {cache}", file=sys.stderr)
    if not root.exists():
        partial = cache / "partial-root"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir()
        subprocess.run(["tar", "-xpf", str(tar), "--numeric-owner", "-C", str(partial)], check=True)
        partial.rename(root)
    return cache


def build(log: bool = True) -> Image:
    """Wheels, base (cached), app layer: the image's blobs."""
    app_wheel, dep_wheels = wheels()
    cache = base(packages(), dep_wheels, log)
    app_tar = cache / f"app-{hashlib.sha256(app_wheel.read_bytes()).hexdigest()[:16]}.tar"
    if not app_tar.exists():
        partial = app_tar.with_name("partial-" + app_tar.name)
        make_app_layer(cache / "root", app_wheel, partial)
        for old in cache.glob("app-*.tar*"):
            old.unlink()
        partial.rename(app_tar)
    version = app_wheel.name.split("-")[1]
    return pack([cache / "rootfs.tar", app_tar], version)


def push(img: Image, url: str) -> str:
    """Push the image to *url* (plain HTTP for loopback registries); returns its digest."""
    sys.path.insert(0, str(ROOT / "src"))
    from bpfman.images.reference import parse
    from bpfman.images.registry import Registry

    ref = parse(url)
    with Registry(ref, None, push=True) as reg:
        for layer in img.layers:
            reg.push_blob(layer)
        reg.push_blob(img.config)
        return reg.push_manifest(img.manifest, OCI_MANIFEST, ref.ref)


def _prune(keep: Path) -> None:
    """Keep the newest KEEP cached bases."""
    bases = sorted(
        (d for d in BUILD.glob("base-*") if (d / "rootfs.tar").exists()),
        key=lambda d: (d / "rootfs.tar").stat().st_mtime,
        reverse=True,
    )
    for old in bases[KEEP:]:
        if old != keep:
            shutil.rmtree(old, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("wheels", help="build the wheels into build/image/wheels/")
    sub.add_parser("build", help="build the image (the base is cached) and print its digest")
    p = sub.add_parser("push", help="build and push to a registry")
    p.add_argument("url", help="HOST[:PORT]/NAME:TAG")
    args = ap.parse_args(argv)
    if args.cmd == "wheels":
        app, deps = wheels()
        for w in [app, *deps]:
            print(w)
        return 0
    img = build()
    if args.cmd == "build":
        print(digest(img.manifest))
        return 0
    print(push(img, args.url))
    return 0


if __name__ == "__main__":
    sys.exit(main())
