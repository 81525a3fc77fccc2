"""What an image's JSON and layer hold, for bpfman: pure functions over bytes, no I/O.

An index names one manifest per platform; a manifest names a config (with
the labels) and the layers; the first regular file of the first layer is the
eBPF object.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import zlib
from dataclasses import dataclass
from typing import Any

from bpfman.images.errors import ImageError

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_TYPES = (OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST)
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)

OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER_TYPES = (
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.docker.image.rootfs.diff.tar",
)
MAX_OBJECT = 64 << 20
MAX_LAYER = 2 * MAX_OBJECT  # uncompressed


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def parse_json(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except ValueError:
        raise ImageError(f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise ImageError(f"{what} is not a JSON object")
    return value


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    platform: str = ""

    @classmethod
    def of(cls, raw: Any, what: str) -> Descriptor:
        if not isinstance(raw, dict) or not isinstance(raw.get("digest"), str):
            raise ImageError(f"{what}: malformed descriptor")
        plat = raw.get("platform") or {}
        platform = ""
        if isinstance(plat, dict) and plat.get("os") and plat.get("architecture"):
            platform = f"{plat['os']}/{plat['architecture']}"
            if plat.get("variant"):
                platform += f"/{plat['variant']}"
        size = raw.get("size", 0)
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ImageError(f"{what}: the descriptor's size {size!r:.40} is not a byte count")
        return cls(str(raw.get("mediaType", "")), raw["digest"], size, platform)


def select_platform(index: dict[str, Any], platform: str, image: str) -> Descriptor:
    """The index entry for *platform* (``linux/amd64``; any variant accepted)."""
    manifests = index.get("manifests") or []
    if not isinstance(manifests, list):
        raise ImageError(f"image {image}: the index's manifests are not a list")
    entries = [Descriptor.of(m, image) for m in manifests]
    for d in entries:
        if d.platform == platform or d.platform.startswith(platform + "/"):
            return d
    have = ", ".join(sorted({d.platform or "unknown" for d in entries})) or "none"
    raise ImageError(f"image {image} has no {platform} bytecode (platforms: {have})")


def is_index(doc: dict[str, Any], media_type: str) -> bool:
    return media_type in INDEX_TYPES or (
        "manifests" in doc and "layers" not in doc and doc.get("mediaType") != OCI_MANIFEST
    )


def config_and_layer(manifest: dict[str, Any], image: str) -> tuple[Descriptor, Descriptor]:
    """The config and first layer of an image manifest."""
    layers = manifest.get("layers") or []
    if not isinstance(layers, list):
        raise ImageError(f"image {image}: the manifest's layers are not a list")
    if "config" not in manifest or not layers:
        raise ImageError(f"image {image}: the manifest has no config or no layer")
    config = Descriptor.of(manifest["config"], image)
    layer = Descriptor.of(layers[0], image)
    if layer.media_type and layer.media_type not in LAYER_TYPES:
        raise ImageError(f"image {image}: unsupported layer type {layer.media_type!r}")
    return config, layer


def config_labels(config: bytes, image: str) -> dict[str, str]:
    doc = parse_json(config, f"the config of image {image}")
    inner = doc.get("config") or {}
    labels = inner.get("Labels") if isinstance(inner, dict) else None
    if not isinstance(labels, dict):
        return {}
    return {str(k): str(v) for k, v in labels.items()}


def first_file(layer: bytes, image: str) -> tuple[str, bytes]:
    """(name, bytes) of the first regular file of a (gzipped) tar layer."""
    raw = layer
    if layer[:2] == b"\x1f\x8b":
        d = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            raw = d.decompress(layer, MAX_LAYER + 1)  # bounded: no gzip bomb
        except zlib.error:
            raise ImageError(f"image {image}: the layer is not valid gzip") from None
    if len(raw) > MAX_LAYER:
        raise ImageError(f"image {image}: the layer is larger than {MAX_LAYER >> 20} MiB")
    try:
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
            for member in tar:
                if member.isreg():
                    if member.size > MAX_OBJECT:
                        raise ImageError(f"image {image}: the object is too large")
                    f = tar.extractfile(member)
                    if f is None:
                        break
                    return member.name.removeprefix("./"), f.read()
    except tarfile.TarError:
        raise ImageError(f"image {image}: the layer is not a tar archive") from None
    raise ImageError(f"image {image}: the layer holds no file")
