"""Where a Load's bytecode comes from: a local file, or an OCI image through an ``ImageSource``.

``locate`` sets a LoadSpec's object file from the request's
``BytecodeLocation``. Images go to the daemon's ``ImageSource`` (``OciImages``:
``bpfman.manager.images``, as for ``bpfman load image``): ``prepare_load`` pulls the
image (by its policy, with its credentials) and checks the requested
programs against it.
``program_sections`` reads the ELF section of named programs: the gRPC API
has no kretprobe or uretprobe type, the section tells (``kretprobe/...``).
"""

from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING, Protocol

from bpfman.manager.errors import InputError
from bpfman.server import bpfman_pb2 as pb

if TYPE_CHECKING:
    from bpfman.images import Credentials
    from bpfman.manager.core import LoadSpec, Manager


class ImageSource(Protocol):
    """OCI bytecode images (``../shared/spec/images.md``) for the Load and PullBytecode RPCs."""

    def prepare_load(self, mgr: Manager, spec: LoadSpec, image: pb.BytecodeImage) -> LoadSpec:
        """Pull *image* and check *spec*'s programs are in it; *spec* with ``path`` (the
        cached object file), ``image_url`` and ``pull_policy`` set."""
        ...

    def pull(self, mgr: Manager, image: pb.BytecodeImage) -> None:
        """Pull *image* into the cache, as its policy says."""
        ...


class OciImages:
    """Images through ``bpfman.images``: the registry, the cache and the signature policy."""

    def prepare_load(self, mgr: Manager, spec: LoadSpec, image: pb.BytecodeImage) -> LoadSpec:
        from bpfman import images
        from bpfman.manager.images import prepare_load

        policy = images.PullPolicy.parse(image.image_pull_policy)
        spec = dataclasses.replace(spec, image_url=image.url, pull_policy=policy.word)
        ready, _ = prepare_load(mgr, spec, _credentials(image))
        return ready

    def pull(self, mgr: Manager, image: pb.BytecodeImage) -> None:
        from bpfman import images

        if not image.url:
            raise InputError("PullBytecodeRequest.image.url is empty")
        images.pull(
            mgr.paths.root,
            image.url,
            images.PullPolicy.parse(image.image_pull_policy),
            _credentials(image),
            images.SigningPolicy.from_config(mgr.config.signing),
        )


def _credentials(image: pb.BytecodeImage) -> Credentials | None:
    from bpfman.images import Credentials

    return Credentials.of(
        image.username if image.HasField("username") else None,
        image.password if image.HasField("password") else None,
    )


def locate(
    location: pb.BytecodeLocation, spec: LoadSpec, mgr: Manager, images: ImageSource
) -> LoadSpec:
    """*spec* with its bytecode set: the file given, or the image pulled."""
    which = location.WhichOneof("location")
    if which == "image":
        return images.prepare_load(mgr, spec, location.image)
    if which != "file" or not location.file:
        raise InputError("LoadRequest.bytecode: give a file path or an image")
    if not os.path.isabs(location.file):
        raise InputError(
            f"LoadRequest.bytecode.file {location.file!r}: give an absolute path"
            " (the daemon does not share the client's working directory)"
        )
    return dataclasses.replace(spec, path=location.file)


def program_sections(path: str, names: list[str]) -> dict[str, str]:
    """ELF section of each function in *names* found in the object *path* (others left out)."""
    from bpfman import elf
    from bpfman.errors import BpfError

    out: dict[str, str] = {}
    with elf.open_elf(path) as obj:
        for name in names:
            try:
                sym = obj.find_function(name)
            except BpfError:
                continue  # the load reports the unknown program, with the known ones
            if 0 < sym.shndx < len(obj.sections):
                out[name] = obj.sections[sym.shndx].name
    return out
