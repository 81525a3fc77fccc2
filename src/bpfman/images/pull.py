"""Pull an image into the cache (by its pull policy) and hand back its checked object.

``pull()`` is what ``bpfman load image``, ``bpfman image pull`` and the
daemon's Load / PullBytecode call. Network I/O happens only here, before the
manager takes its writer lock.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from bpfman.images import layout, signing
from bpfman.images.cache import ImageCache, RefRecord
from bpfman.images.credentials import Credentials
from bpfman.images.elfcheck import check_bpf_object
from bpfman.images.errors import ImageError, NotCached
from bpfman.images.labels import Labels, from_config, from_object
from bpfman.images.layout import parse_json
from bpfman.images.platform import host_platform
from bpfman.images.reference import PullPolicy, Reference, parse
from bpfman.images.signing import SigningPolicy


@dataclass(frozen=True)
class PulledImage:
    url: str  # as the user wrote it
    reference: str  # canonical: registry/repository:tag[@digest]
    policy: PullPolicy
    digest: str  # of what the reference names (manifest or index)
    manifest_digest: str  # the platform's manifest
    platform: str
    object_path: str  # checked object, rewritten from the checked layer by this call
    object_name: str  # its file name in the layer
    labels: Labels
    signature: str  # verified / unsigned / unverifiable / not-checked
    from_cache: bool


def images_dir(runtime_root: str) -> str:
    return os.path.join(runtime_root, "images")


def pull(
    runtime_root: str,
    url: str,
    policy: str | int | PullPolicy | None = None,
    credentials: Credentials | None = None,
    signing_policy: SigningPolicy | None = None,
) -> PulledImage:
    """The image *url*'s object for this host, pulled as *policy* says.

    ``Always`` contacts the registry and downloads every blob again;
    ``IfNotPresent`` (the default) uses the cache when it holds the image;
    ``Never`` uses only the cache. Whatever comes from the cache is checked
    against its digests first (``TamperedCache`` on a mismatch).
    """
    ref = parse(url)
    pull_policy = PullPolicy.parse(policy)
    rules = signing_policy or SigningPolicy()
    cache = ImageCache(images_dir(runtime_root))
    platform = host_platform()
    rec = cache.record(ref) if pull_policy != PullPolicy.ALWAYS else None
    resolved = _resolve(cache, ref, rec, platform) if rec is not None else None
    from_cache = resolved is not None
    if resolved is None:
        if pull_policy == PullPolicy.NEVER:
            raise NotCached(f"image {ref} is not in the cache and the pull policy is Never")
        rec = _fetch(cache, ref, platform, credentials, rules)
        resolved = _resolve(cache, ref, rec, platform)
        if resolved is None:
            raise ImageError(f"image {ref}: the cache lost blobs while pulling; pull it again")
    assert rec is not None
    signing.enforce(rec.signature, rules, str(ref))
    manifest_digest, config, layer, layer_digest = resolved
    image = str(ref)
    name, obj = layout.first_file(layer, image)
    check_bpf_object(obj, f"the object {name} of image {image}")
    path = cache.write_object(layer_digest, name, obj)
    labels = from_config(layout.config_labels(config, image), image) or from_object(path)
    return PulledImage(
        url=url,
        reference=image,
        policy=pull_policy,
        digest=rec.digest,
        manifest_digest=manifest_digest,
        platform=platform,
        object_path=path,
        object_name=name,
        labels=labels,
        signature=rec.signature,
        from_cache=from_cache,
    )


def object_of(runtime_root: str, url: str, manifest_digest: str) -> str:
    """The object of the platform manifest *manifest_digest* of image *url*, from the cache
    only (checked against its digests, written out again): what a program was loaded from."""
    image = str(parse(url))
    cache = ImageCache(images_dir(runtime_root))
    manifest = cache.blob(manifest_digest, image)
    if manifest is None:
        raise NotCached(
            f"image {image} (manifest {manifest_digest}) is no longer in the cache:"
            " pull it again or reload the program"
        )
    doc = parse_json(manifest, f"manifest {manifest_digest}")
    _, layer_d = layout.config_and_layer(doc, image)
    layer = cache.blob(layer_d.digest, image)
    if layer is None:
        raise NotCached(f"image {image}: its layer {layer_d.digest} is no longer in the cache")
    name, obj = layout.first_file(layer, image)
    check_bpf_object(obj, f"the object {name} of image {image}")
    return cache.write_object(layer_d.digest, name, obj)


def _fetch(
    cache: ImageCache,
    ref: Reference,
    platform: str,
    credentials: Credentials | None,
    rules: SigningPolicy,
) -> RefRecord:
    from bpfman.images.registry import Registry  # httpx: only when the registry is needed

    image = str(ref)
    with Registry(ref, credentials) as reg:
        top = reg.manifest()
        cache.put_blob(top.digest, top.data)
        doc = top.json()
        manifest_digest = top.digest
        if layout.is_index(doc, top.media_type):
            chosen = layout.select_platform(doc, platform, image)
            m = reg.manifest(chosen.digest)
            cache.put_blob(m.digest, m.data)
            manifest_digest, doc = m.digest, m.json()
        config, layer = layout.config_and_layer(doc, image)
        for d in (config, layer):
            cache.put_blob(d.digest, reg.blob(d.digest))
        status, signer = signing.check(reg, top.digest, rules, image)
    rec = cache.new_record(ref, top.digest, manifest_digest, platform, status, signer)
    cache.put_record(ref, rec)
    return rec


def _resolve(
    cache: ImageCache, ref: Reference, rec: RefRecord, platform: str
) -> tuple[str, bytes, bytes, str] | None:
    """(manifest digest, config, layer, layer digest) from the cache, or None if incomplete."""
    image = str(ref)
    top = cache.blob(rec.digest, image)
    if top is None:
        return None
    doc = parse_json(top, f"manifest {rec.digest}")
    manifest_digest = rec.digest
    if layout.is_index(doc, str(doc.get("mediaType", ""))):
        manifest_digest = layout.select_platform(doc, platform, image).digest
        data = cache.blob(manifest_digest, image)
        if data is None:
            return None
        doc = parse_json(data, f"manifest {manifest_digest}")
    config_d, layer_d = layout.config_and_layer(doc, image)
    config = cache.blob(config_d.digest, image)
    layer = cache.blob(layer_d.digest, image)
    if config is None or layer is None:
        return None
    return manifest_digest, config, layer, layer_d.digest
