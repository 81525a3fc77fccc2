"""eBPF bytecode in OCI images: pull (with a cache), check, build and push.

Modules, one concept each: ``reference`` (image references, pull policies),
``registry`` (the OCI distribution API over httpx, Basic/Bearer auth),
``layout`` (manifests, indexes, configs, layers), ``cache`` (the local
content-addressed store), ``elfcheck`` (is it BPF bytecode for this host),
``labels`` (``io.ebpf.programs``/``io.ebpf.maps``), ``signing`` (cosign),
``platform`` (goarch and build slots), ``pull`` and ``build``.

For the manager and the daemon::

    pulled = images.pull(mgr.paths.root, url, policy, credentials, signing_policy)
    spec = images.prepare_load(mgr, spec, credentials)   # LoadSpec with image_url set
    mgr.load(spec)
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from bpfman.images.credentials import Credentials
from bpfman.images.errors import (
    ImageError,
    ImageNotFound,
    InputError,
    NotBytecode,
    NotCached,
    RegistryDenied,
    RegistryUnreachable,
    SignatureError,
    TamperedCache,
)
from bpfman.images.labels import Labels, check_requests
from bpfman.images.pull import PulledImage, images_dir, object_of, pull
from bpfman.images.reference import PullPolicy
from bpfman.images.signing import SigningPolicy

if TYPE_CHECKING:
    from bpfman.manager.core import LoadSpec, Manager


def prepare_load(
    mgr: Manager, spec: LoadSpec, credentials: Credentials | None = None
) -> tuple[LoadSpec, PulledImage]:
    """Pull ``spec.image_url`` (by ``spec.pull_policy``) and check the requested programs
    against the image's labels; the spec to give ``Manager.load`` (its ``path`` the
    checked object, the image URL and policy recorded) and what was pulled.

    Raises ``InputError`` (a requested program not in the image, or of another
    type), ``ImageError`` and its kinds (registry, cache, signature problems).
    """
    if not spec.image_url:
        raise InputError("load image needs an image URL")
    pulled = pull(
        mgr.paths.root,
        spec.image_url,
        spec.pull_policy,
        credentials,
        SigningPolicy.from_config(mgr.config.signing),
    )
    check_requests(pulled.labels, spec.requests, pulled.reference)
    ready = dataclasses.replace(
        spec,
        path=pulled.object_path,
        pull_policy=pulled.policy.word,
        image_digest=pulled.manifest_digest,
    )
    return ready, pulled


__all__ = [
    "Credentials",
    "ImageError",
    "ImageNotFound",
    "InputError",
    "Labels",
    "NotBytecode",
    "NotCached",
    "PullPolicy",
    "PulledImage",
    "RegistryDenied",
    "RegistryUnreachable",
    "SignatureError",
    "SigningPolicy",
    "TamperedCache",
    "images_dir",
    "object_of",
    "prepare_load",
    "pull",
]
