"""CSI map volumes: a pod's own bpffs holding the maps of one of bpfman's programs.

A volume (``bpfman serve --csi-support``, the ``csi.bpfman.io`` driver) is a
fresh bpffs mounted at ``<runtime>/csi/fs/<volume_id>`` with the requested
maps of a program re-pinned in it (the same kernel maps: the pod and the
program share them), then bind-mounted on the pod's target path. The program
is the one whose metadata ``bpfman.io/ProgramName`` (set by the operator's
agent at Load) is the volume's ``csi.bpfman.io/program`` attribute; the maps
are the comma-separated names of ``csi.bpfman.io/maps``. With a
``volume_mount_group`` the bpffs root (0750) and the maps (0660) belong to
that group, so the pod's non-root user reads and writes them.

Publishing undoes its steps on failure; unpublishing unmounts the target and
the bpffs and removes both directories. Both are idempotent, as kubelet
retries them (CSI): a publish of a volume already on the target answers OK if
it matches (read-only, group), else ``AlreadyExistsError``, as does a target
that is a mount point of anything else. A missing attribute is NotFoundError
(NOT_FOUND, as upstream's plugin answers), a malformed one InputError.
``parse_attributes`` and ``check_volume_id`` are pure.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bpfman import mounts
from bpfman.errors import BpfError
from bpfman.manager.errors import AlreadyExistsError, InputError, NotFoundError
from bpfman.manager.paths import pin_name
from bpfman.manager.undo import Undo

if TYPE_CHECKING:
    from bpfman.manager.core import Manager
    from bpfman.manager.models import ProgramRecord

PROGRAM_KEY = "csi.bpfman.io/program"
MAPS_KEY = "csi.bpfman.io/maps"
PROGRAM_NAME_METADATA = "bpfman.io/ProgramName"
ROOT_MODE = 0o750
MAP_MODE = 0o660
log = logging.getLogger("bpfman.csi")


@dataclass(frozen=True)
class VolumeRequest:
    """What a volume holds: the maps *maps* of the program named *program*."""

    program: str
    maps: tuple[str, ...]


def parse_attributes(attributes: dict[str, str]) -> VolumeRequest:
    """The volume's attributes (``volume_context``) -> what it holds.

    NotFoundError if one is missing (or names no map), InputError if a map name is malformed.
    """
    program = attributes.get(PROGRAM_KEY, "").strip()
    maps_text = attributes.get(MAPS_KEY, "")
    missing = [k for k, v in ((PROGRAM_KEY, program), (MAPS_KEY, maps_text.strip())) if not v]
    if missing:
        raise NotFoundError(f"volume attribute {' and '.join(missing)} missing")
    maps = tuple(dict.fromkeys(m.strip() for m in maps_text.split(",") if m.strip()))
    for name in maps:
        if "/" in name or name in (".", ".."):
            raise InputError(f"{MAPS_KEY}: {name!r} is not a map name")
    if not maps:
        raise NotFoundError(f"{MAPS_KEY} names no map")
    return VolumeRequest(program, maps)


def check_volume_id(volume_id: str) -> str:
    """A volume id names one directory: no '/', not '.' or '..', not empty."""
    if not volume_id or "/" in volume_id or volume_id in (".", "..") or "\0" in volume_id:
        raise InputError(f"volume id {volume_id!r} is not usable as a directory name")
    return volume_id


def check_target(target: str) -> str:
    if not target or not os.path.isabs(target) or "\0" in target:
        raise InputError(f"target path {target!r} must be an absolute path")
    return os.path.normpath(target)


def volume_dir(mgr: Manager, volume_id: str) -> str:
    return os.path.join(mgr.paths.root, "csi", "fs", check_volume_id(volume_id))


def program_named(mgr: Manager, name: str) -> ProgramRecord:
    """The program whose metadata ``bpfman.io/ProgramName`` is *name* (the lowest id)."""
    found = [r for r in mgr.store.programs() if r.metadata.get(PROGRAM_NAME_METADATA) == name]
    if not found:
        raise NotFoundError(f"no bpfman program with {PROGRAM_NAME_METADATA}={name!r}")
    return min(found, key=lambda r: r.id)


def publish(
    mgr: Manager,
    volume_id: str,
    target: str,
    req: VolumeRequest,
    group: int | None = None,
    readonly: bool = False,
) -> None:
    """Make the volume (bpffs + re-pinned maps) and bind-mount it on *target*."""
    from bpfman.map import Map

    target = check_target(target)
    vdir = volume_dir(mgr, volume_id)
    if published(volume_id, vdir, target, group, readonly):
        return  # kubelet retries
    if os.path.islink(target) or (os.path.lexists(target) and not os.path.isdir(target)):
        raise InputError(f"target path {target} exists and is not a directory")
    rec = program_named(mgr, req.program)
    sources = {name: os.path.join(rec.map_pin_path, pin_name(name)) for name in req.maps}
    absent = [name for name, path in sources.items() if not os.path.exists(path)]
    if absent:
        have = sorted(os.listdir(rec.map_pin_path)) if os.path.isdir(rec.map_pin_path) else []
        raise NotFoundError(
            f"program {req.program!r} (id {rec.id}) has no map {', '.join(absent)}"
            f" (its maps: {', '.join(have) or 'none'})"
        )
    with Undo() as undo:
        if not os.path.ismount(vdir):
            if not os.path.isdir(vdir):
                os.makedirs(vdir, mode=0o700)
                undo.push("volume dir", lambda: os.rmdir(vdir))
            mounts.mount_bpffs(vdir)
            undo.push("volume bpffs", lambda: mounts.unmount(vdir, lazy=True))
        os.chown(vdir, 0, group if group is not None else 0)
        os.chmod(vdir, ROOT_MODE)
        for name, source in sources.items():
            pin = os.path.join(vdir, pin_name(name))
            if os.path.exists(pin):
                continue
            with Map.from_pin(source) as m:
                m.pin(pin)
            os.chown(pin, 0, group if group is not None else 0)
            os.chmod(pin, MAP_MODE)
        if not os.path.isdir(target):
            try:
                os.makedirs(target, mode=ROOT_MODE)
            except OSError as e:
                why = f"cannot make target path {target}: {e.strerror}"
                raise BpfError(why, errno=e.errno or 0) from None
            undo.push("target dir", lambda: os.rmdir(target))
        mounts.bind(vdir, target, readonly=readonly)
        undo.commit()
    log.info("volume %s: maps %s of %s on %s", volume_id, ",".join(req.maps), rec.id, target)


def published(volume_id: str, vdir: str, target: str, group: int | None, readonly: bool) -> bool:
    """Whether the volume is on *target* as asked; AlreadyExistsError if *target* has another.

    The bind mount shares the volume's bpffs (one st_dev); read-only is the
    target's mount flag, the group the bpffs root's.
    """
    if not os.path.ismount(target):
        return False
    volume = os.stat(vdir) if os.path.ismount(vdir) else None
    if volume is None or volume.st_dev != os.stat(target).st_dev:
        raise AlreadyExistsError(f"target path {target} is a mount point already")
    gid = group if group is not None else 0
    is_readonly = bool(os.statvfs(target).f_flag & os.ST_RDONLY)
    wanted = (
        ("read-only" if readonly else "read-write", is_readonly == readonly),
        (f"group {gid}", volume.st_gid == gid),
    )
    differs = [what for what, same in wanted if not same]
    if differs:
        why = f"volume {volume_id} is published on {target} already, not {' and '.join(differs)}"
        raise AlreadyExistsError(why)
    return True


def unpublish(mgr: Manager, volume_id: str, target: str) -> None:
    """Unmount the volume from *target* and remove it (nothing to do is fine)."""
    target = check_target(target)
    vdir = volume_dir(mgr, volume_id)
    if os.path.ismount(target):
        mounts.unmount(target)
    with contextlib.suppress(FileNotFoundError):
        os.rmdir(target)  # made by publish (kubelet's own directory is its parent)
    if os.path.ismount(vdir):
        mounts.unmount(vdir)
    with contextlib.suppress(FileNotFoundError):
        os.rmdir(vdir)
    log.info("volume %s: unpublished from %s", volume_id, target)
