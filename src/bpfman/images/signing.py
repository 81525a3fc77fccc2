"""Cosign signature checks, by the ``[signing]`` policy of the config file.

A cosign signature lives next to the image, at the tag
``sha256-<hex of the signed digest>.sig``: a manifest whose layers are
simple-signing payloads (``application/vnd.dev.cosign.simplesigning.v1+json``,
JSON naming the signed manifest digest under
``critical.image.docker-manifest-digest``), each with its base64 signature
in the ``dev.cosignproject.cosign/signature`` annotation.

Key-based verification is done here: ECDSA (cosign's default P-256 and
SHA-256) against the PEM public keys listed in ``[signing] public_keys``.
Keyless signatures (Fulcio certificates, Rekor transparency log) need the
sigstore services, which bpfman does not contact: without public keys a
present signature counts as unverifiable and follows the rule for unsigned
images.

- ``verify_enabled = false``: no signature lookup at all.
- unsigned (or unverifiable): a warning, or a refusal when ``allow_unsigned = false``.
- a signature that does not verify with any configured key: always refused.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bpfman.images.errors import ImageError, InputError, SignatureError
from bpfman.images.layout import parse_json

if TYPE_CHECKING:
    from bpfman.images.registry import Registry

SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
SIGNATURE_TYPE = "cosign container image signature"
MAX_PAYLOAD = 1 << 20

VERIFIED, UNSIGNED, UNVERIFIABLE, NOT_CHECKED = (
    "verified",
    "unsigned",
    "unverifiable",
    "not-checked",
)
log = logging.getLogger("bpfman.images")


@dataclass(frozen=True)
class SigningPolicy:
    verify_enabled: bool = True
    allow_unsigned: bool = True
    public_keys: tuple[str, ...] = ()  # PEM files

    @classmethod
    def from_config(cls, signing: Mapping[str, Any] | None) -> SigningPolicy:
        signing = signing or {}
        out: dict[str, Any] = {}
        for key in ("verify_enabled", "allow_unsigned"):
            if key in signing:
                if not isinstance(signing[key], bool):
                    raise InputError(f"config: signing.{key} must be true or false")
                out[key] = signing[key]
        keys = signing.get("public_keys", [])
        if isinstance(keys, str):
            keys = [keys]
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise InputError("config: signing.public_keys must be a list of PEM file paths")
        return cls(public_keys=tuple(keys), **out)


def signature_tag(digest: str) -> str:
    return digest.replace(":", "-") + ".sig"


def check(reg: Registry, digest: str, policy: SigningPolicy, image: str) -> tuple[str, str]:
    """(status, signer) of the image whose manifest or index is *digest*.

    A present signature that verifies with none of the keys is ``SignatureError``.
    """
    if not policy.verify_enabled:
        return NOT_CHECKED, ""
    sig = reg.manifest_or_none(signature_tag(digest))
    if sig is None:
        return UNSIGNED, ""
    layers = [
        layer
        for layer in sig.json().get("layers") or []
        if isinstance(layer, dict) and layer.get("mediaType") == SIMPLE_SIGNING
    ]
    if not layers:
        return UNSIGNED, ""
    keys = _load_keys(policy.public_keys)
    if not keys:
        return UNVERIFIABLE, ""
    for layer in layers:
        annotation = (layer.get("annotations") or {}).get(SIGNATURE_ANNOTATION, "")
        try:
            signature = base64.b64decode(annotation, validate=True)
        except (binascii.Error, ValueError):
            continue
        payload = reg.blob(str(layer.get("digest")), MAX_PAYLOAD)
        for path, key in keys:
            if _verifies(key, signature, payload) and _names(payload, digest):
                return VERIFIED, path
    raise SignatureError(
        f"image {image}: its cosign signature does not verify with any of the "
        f"configured public keys ({', '.join(policy.public_keys)})"
    )


def enforce(status: str, policy: SigningPolicy, image: str) -> None:
    """Apply the policy to a signature status: warn, or refuse with ``SignatureError``."""
    if status == VERIFIED or not policy.verify_enabled:
        return
    if status == UNVERIFIABLE:
        why = (
            f"image {image} has a cosign signature that cannot be verified here "
            "(keyless verification needs sigstore; list public keys in [signing] public_keys)"
        )
    elif status == NOT_CHECKED:
        why = f"image {image} was pulled without signature verification"
    else:
        why = f"image {image} is not signed"
    if not policy.allow_unsigned:
        raise SignatureError(f"{why}, and [signing] allow_unsigned is false")
    log.warning("Warning: %s", why)


def _load_keys(paths: tuple[str, ...]) -> list[tuple[str, Any]]:
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    keys: list[tuple[str, Any]] = []
    for path in paths:
        try:
            with open(path, "rb") as f:
                key = load_pem_public_key(f.read())
        except OSError as e:
            raise ImageError(f"signing public key {path}: {e.strerror}") from None
        except ValueError:
            raise ImageError(f"signing public key {path}: not a PEM public key") from None
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise ImageError(f"signing public key {path}: only ECDSA keys are supported")
        keys.append((path, key))
    return keys


def _verifies(key: Any, signature: bytes, payload: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        key.verify(signature, payload, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True


def _names(payload: bytes, digest: str) -> bool:
    """Whether the simple-signing payload signs *digest*."""
    try:
        doc = parse_json(payload, "signature payload")
        critical = doc["critical"]
        return bool(
            critical["type"] == SIGNATURE_TYPE
            and critical["image"]["docker-manifest-digest"] == digest
        )
    except (ImageError, KeyError, TypeError):
        return False


def simple_signing_payload(reference: str, digest: str) -> bytes:
    """The payload a cosign signature of *digest* signs (for signing tools and tests)."""
    import json

    doc = {
        "critical": {
            "identity": {"docker-reference": reference},
            "image": {"docker-manifest-digest": digest},
            "type": SIGNATURE_TYPE,
        },
        "optional": None,
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def attach_signature(reg: Registry, digest: str, payload: bytes, signature: bytes) -> str:
    """Push a cosign-format signature of *digest* (``sha256-<hex>.sig``); its manifest digest."""
    import json

    from bpfman.images.layout import OCI_CONFIG, OCI_MANIFEST, sha256_digest

    config = b"{}"
    layer = {
        "mediaType": SIMPLE_SIGNING,
        "digest": sha256_digest(payload),
        "size": len(payload),
        "annotations": {SIGNATURE_ANNOTATION: base64.b64encode(signature).decode()},
    }
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": OCI_CONFIG,
            "digest": sha256_digest(config),
            "size": len(config),
        },
        "layers": [layer],
    }
    reg.push_blob(config)
    reg.push_blob(payload)
    data = json.dumps(manifest, separators=(",", ":")).encode()
    return reg.push_manifest(data, OCI_MANIFEST, signature_tag(digest))
