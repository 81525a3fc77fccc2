"""The local image cache: content-addressed blobs and the references that name them.

Layout under ``<runtime>/images/``::

    blobs/sha256/<hex>        manifests, indexes, configs, layers (exact bytes)
    refs/<sha256 of ref>.json what a reference resolved to when last pulled
    objects/<layer hex>/NAME  the object of a layer, rewritten from it on every use

Every read of a blob re-checks its SHA-256 against the digest that names
it (a mismatch is ``TamperedCache``), and the object is re-extracted from the
checked layer before each use: what is loaded is what the manifest names.
Files are written to a temporary name and renamed: concurrent pulls of the
same image are safe.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from typing import Any

from bpfman.images.errors import ImageError, TamperedCache
from bpfman.images.layout import sha256_digest
from bpfman.images.reference import Reference

_HEX = frozenset("0123456789abcdef")


@dataclass
class RefRecord:
    """What one reference resolved to."""

    reference: str
    digest: str  # of what the reference names: a manifest or an index
    manifest: str  # the platform manifest used (== digest for a single-arch image)
    platform: str
    pulled_at: float
    signature: str  # "verified", "unsigned", "unverifiable", "not-checked"
    signer: str = ""


def _hex_of(digest: str) -> str:
    algo, _, hexpart = digest.partition(":")
    if algo != "sha256" or len(hexpart) != 64 or not set(hexpart) <= _HEX:
        raise ImageError(f"unsupported digest {digest!r} (sha256 only)")
    return hexpart


class ImageCache:
    def __init__(self, root: str) -> None:
        self.root = root

    def _blob_path(self, digest: str) -> str:
        return os.path.join(self.root, "blobs", "sha256", _hex_of(digest))

    def _ref_path(self, ref: Reference) -> str:
        key = hashlib.sha256(str(ref).encode()).hexdigest()
        return os.path.join(self.root, "refs", f"{key}.json")

    def object_path(self, layer_digest: str, name: str) -> str:
        """Where the object of a layer is written: under its own file name (libbpf names
        the object, and so its ``.data``/``.bss`` maps, after it)."""
        base = os.path.basename(name)
        if not base or base.startswith(".") or not base.isprintable():
            base = "bytecode.o"
        return os.path.join(self.root, "objects", _hex_of(layer_digest), base)

    @staticmethod
    def _write(path: str, data: bytes, mode: int = 0o600) -> None:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.chmod(tmp, mode)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    # ------------------------------------------------------------------ blobs

    def put_blob(self, digest: str, data: bytes) -> None:
        if sha256_digest(data) != digest:
            raise ImageError(f"blob {digest}: content does not match the digest")
        self._write(self._blob_path(digest), data)

    def blob(self, digest: str, image: str) -> bytes | None:
        """The cached blob, checked; None when absent. A mismatch is ``TamperedCache``."""
        try:
            with open(self._blob_path(digest), "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return None
        actual = sha256_digest(data)
        if actual != digest:
            raise TamperedCache(
                f"image {image}: the cached blob {digest} now hashes to {actual} "
                "(the cached bytecode was tampered with); pull it again with "
                "--pull-policy Always"
            )
        return data

    # ------------------------------------------------------------------ refs

    def record(self, ref: Reference) -> RefRecord | None:
        try:
            with open(self._ref_path(ref)) as f:
                raw: dict[str, Any] = json.load(f)
            return RefRecord(**raw)
        except FileNotFoundError:
            return None
        except (ValueError, TypeError):
            return None  # unreadable: as if never pulled

    def put_record(self, ref: Reference, rec: RefRecord) -> None:
        self._write(self._ref_path(ref), json.dumps(asdict(rec), indent=1).encode())

    def new_record(
        self, ref: Reference, digest: str, manifest: str, platform: str, signature: str, signer: str
    ) -> RefRecord:
        return RefRecord(str(ref), digest, manifest, platform, time.time(), signature, signer)

    # ------------------------------------------------------------------ objects

    def write_object(self, layer_digest: str, name: str, data: bytes) -> str:
        path = self.object_path(layer_digest, name)
        self._write(path, data, 0o644)
        return path
