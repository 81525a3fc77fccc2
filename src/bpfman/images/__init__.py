"""eBPF bytecode in OCI images: pull (with a cache), check, build and push.

Modules, one concept each: ``reference`` (image references, pull policies),
``registry`` (the OCI distribution API over httpx, Basic/Bearer auth),
``layout`` (manifests, indexes, configs, layers), ``cache`` (the local
content-addressed store), ``elfcheck`` (is it BPF bytecode for this host),
``labels`` (``io.ebpf.programs``/``io.ebpf.maps``), ``signing`` (cosign),
``platform`` (goarch and build slots), ``pull`` and ``build``.

The manager's glue (pull by a LoadSpec, check its programs, record the image) is
``bpfman.manager.images.prepare_load``.
"""

from __future__ import annotations

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
    "check_requests",
    "images_dir",
    "object_of",
    "pull",
]
