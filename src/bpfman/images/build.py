"""``bpfman image build`` / ``generate-build-args``: bytecode images made from object files.

An image is what a ``FROM scratch`` build with the object copied to ``/``
gives: one gzipped tar layer holding the object, and a config whose labels
(``io.ebpf.programs``, ``io.ebpf.maps``) are computed from the object. With
several architectures (``--bc-amd64-el`` ...), one such image per platform
under an image index. Built in memory, deterministically (no timestamps),
and pushed straight to the registry: no container engine is needed.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import stat
import tarfile
from dataclasses import dataclass

from bpfman.images.credentials import Credentials
from bpfman.images.elfcheck import check_bpf_object
from bpfman.images.errors import ImageError, InputError, UsageError
from bpfman.images.labels import Labels, from_object
from bpfman.images.layout import OCI_CONFIG, OCI_INDEX, OCI_MANIFEST, sha256_digest
from bpfman.images.platform import (
    SINGLE_BUILD_ARG,
    SLOTS,
    Slot,
    host_endian,
    host_goarch,
    slot_for_cilium,
)
from bpfman.images.reference import parse

OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
_CILIUM_NAME = re.compile(r"^(?P<base>.+)_(?P<arch>[a-z0-9]+)_(?P<endian>bpfel|bpfeb)\.o$")


@dataclass(frozen=True)
class BuildInput:
    build_arg: str  # BC_AMD64_EL ... or BYTECODE_FILE
    path: str
    slot: Slot | None  # None: a single-arch build for this host

    @property
    def goarch(self) -> str:
        return self.slot.goarch if self.slot else host_goarch()

    @property
    def platform(self) -> str:
        return f"linux/{self.goarch}"

    @property
    def endian(self) -> str:
        return self.slot.endian if self.slot else host_endian()


@dataclass(frozen=True)
class Plan:
    inputs: list[BuildInput]
    labels: list[Labels]  # one per input

    @property
    def multi_arch(self) -> bool:
        return any(i.slot is not None for i in self.inputs)

    def build_args(self) -> str:
        """``ARG=path`` lines, then ``PROGRAMS=<json>`` and ``MAPS=<json>`` (of the first input)."""
        lines = [f"{i.build_arg}={i.path}" for i in self.inputs]
        first = self.labels[0]
        lines.append("PROGRAMS=" + json.dumps(first.programs, separators=(",", ":")))
        lines.append("MAPS=" + json.dumps(first.maps, separators=(",", ":")))
        return "\n".join(lines)


def inputs_from(
    bytecode: str | None, cilium_dir: str | None, per_arch: dict[str, str]
) -> list[BuildInput]:
    """The objects of one build: ``-b FILE``, ``-c DIR`` or ``--bc-<arch>-<el|eb> FILE``..."""
    given = [bool(bytecode), bool(cilium_dir), bool(per_arch)]
    if sum(given) != 1:
        raise UsageError(
            "give exactly one of -b/--bytecode FILE, -c/--cilium-ebpf-project DIR "
            "or --bc-<arch>-<el|eb> FILE options"
        )
    if bytecode:
        return [BuildInput(SINGLE_BUILD_ARG, bytecode, None)]
    if cilium_dir:
        return cilium_inputs(cilium_dir)
    out = []
    for slot in SLOTS:
        if slot.build_arg in per_arch:
            out.append(BuildInput(slot.build_arg, per_arch[slot.build_arg], slot))
    return out


def cilium_inputs(directory: str) -> list[BuildInput]:
    """The ``<name>_<arch>_<bpfel|bpfeb>.o`` objects bpf2go writes in a cilium/ebpf project."""
    try:
        names = sorted(os.listdir(directory))
    except OSError as e:
        raise InputError(f"--cilium-ebpf-project {directory}: {e.strerror}") from None
    found: dict[str, BuildInput] = {}
    for name in names:
        m = _CILIUM_NAME.match(name)
        if not m:
            continue
        slot = slot_for_cilium(m["arch"], m["endian"])
        if slot is None:
            continue
        if slot.build_arg in found:
            raise InputError(
                f"--cilium-ebpf-project {directory}: several objects for {slot.platform} "
                f"({os.path.basename(found[slot.build_arg].path)}, {name})"
            )
        found[slot.build_arg] = BuildInput(slot.build_arg, os.path.join(directory, name), slot)
    if not found:
        raise InputError(
            f"--cilium-ebpf-project {directory}: no <name>_<arch>_<bpfel|bpfeb>.o objects"
        )
    return [found[s.build_arg] for s in SLOTS if s.build_arg in found]


def plan(inputs: list[BuildInput]) -> Plan:
    """Check every object (eBPF, right byte order) and compute its labels.

    Objects of the other byte order cannot be parsed here: they get the labels
    of the first object this host can parse (the same source, built per arch).
    """
    computed: list[Labels | None] = []
    for i in inputs:
        try:  # O_NONBLOCK: a FIFO must not hang the build, nor a device be taken for a file
            with open(os.open(i.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC), "rb") as f:
                if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                    raise InputError(f"{i.build_arg} {i.path}: not a regular file")
                head = f.read(64)
        except OSError as e:
            raise InputError(f"{i.build_arg} {i.path}: {e.strerror}") from None
        try:
            check_bpf_object(head, f"{i.build_arg} {i.path}", i.endian)
        except ImageError as e:
            raise InputError(str(e)) from None
        computed.append(from_object(i.path) if i.endian == host_endian() else None)
    fallback = next((c for c in computed if c is not None), None)
    if fallback is None:
        raise InputError(
            f"no object of this host's byte order ({host_endian()}-endian) to compute "
            "the image labels from"
        )
    return Plan(inputs, [c or fallback for c in computed])


@dataclass(frozen=True)
class PlatformImage:
    """One platform's image: what the registry stores."""

    platform: str
    manifest: bytes
    config: bytes
    layer: bytes

    @property
    def digest(self) -> str:
        return sha256_digest(self.manifest)


def make_image(platform: str, name: str, obj: bytes, labels: dict[str, str]) -> PlatformImage:
    """The single-layer image of object *obj* (file *name* at the root)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = len(obj), 0o644, 0
        tar.addfile(info, io.BytesIO(obj))
    tar_bytes = raw.getvalue()
    layer = gzip.compress(tar_bytes, mtime=0)
    os_name, _, arch = platform.partition("/")
    config = {
        "architecture": arch,
        "os": os_name,
        "config": {"Labels": labels},
        "rootfs": {"type": "layers", "diff_ids": [sha256_digest(tar_bytes)]},
        "history": [{"created_by": f"bpfman image build: COPY {name} /"}],
    }
    config_bytes = _canonical(config)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": _descriptor(OCI_CONFIG, config_bytes),
        "layers": [_descriptor(OCI_LAYER, layer)],
    }
    return PlatformImage(platform, _canonical(manifest), config_bytes, layer)


def make_index(images: list[PlatformImage]) -> bytes:
    manifests = []
    for img in images:
        os_name, _, arch = img.platform.partition("/")
        d = _descriptor(OCI_MANIFEST, img.manifest)
        d["platform"] = {"architecture": arch, "os": os_name}
        manifests.append(d)
    return _canonical({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests})


def build(p: Plan) -> list[PlatformImage]:
    out = []
    for i, labels in zip(p.inputs, p.labels, strict=True):
        with open(i.path, "rb") as f:
            obj = f.read()
        out.append(make_image(i.platform, os.path.basename(i.path), obj, labels.as_config_labels()))
    return out


def push(
    url: str, images: list[PlatformImage], multi_arch: bool, credentials: Credentials | None = None
) -> str:
    """Push *images* to *url* (an index when *multi_arch*); the digest the tag now names."""
    from bpfman.images.registry import Registry  # httpx: only when pushing

    ref = parse(url)
    if ref.digest:
        raise InputError(f"image {url}: push to a tag, not a digest")
    with Registry(ref, credentials, push=True) as reg:
        for img in images:
            reg.push_blob(img.layer)
            reg.push_blob(img.config)
        if not multi_arch:
            (img,) = images
            return reg.push_manifest(img.manifest, OCI_MANIFEST, ref.ref)
        for img in images:
            reg.push_manifest(img.manifest, OCI_MANIFEST, img.digest)
        return reg.push_manifest(make_index(images), OCI_INDEX, ref.ref)


def _descriptor(media_type: str, data: bytes) -> dict[str, object]:
    return {"mediaType": media_type, "digest": sha256_digest(data), "size": len(data)}


def _canonical(doc: object) -> bytes:
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()
