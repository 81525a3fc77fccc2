"""Loading from an OCI image: pull it, check the requested programs against its labels.

The manager's glue over ``bpfman.images`` (which knows nothing of the manager)::

    ready, pulled = prepare_load(mgr, spec, credentials)  # the LoadSpec of the cached object
    mgr.load(ready)
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from bpfman.images import Credentials, PulledImage, SigningPolicy, check_requests, pull
from bpfman.manager.errors import InputError

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
