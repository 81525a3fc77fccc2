"""The Manager: bpfman's operations over the library, bpffs pins and the store.

Order of work in every change: kernel first, then pins, the DB commit last;
a failure at any step unwinds the steps before it (``Undo``). All changes
happen under the global writer lock. What a crash leaves half-done,
``doctor`` reports and ``gc`` repairs (see ``reconcile.py``).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from bpfman.errors import BpfError
from bpfman.manager import crash, hooks, intent, limits, parse, safety
from bpfman.manager.config import Config
from bpfman.manager.errors import InputError, NotFoundError, PreconditionError
from bpfman.manager.lock import WriterLock, WriterScope
from bpfman.manager.models import (
    APPLICATION_KEY,
    NET_KINDS,
    BpfmanType,
    LinkRecord,
    NetAttach,
    NetHook,
    ProgramRecord,
    ProgramRequest,
)
from bpfman.manager.paths import Paths, ensure_layout, pin_name, runtime_root
from bpfman.manager.store import Store
from bpfman.manager.undo import Undo

log = logging.getLogger("bpfman.manager")


@dataclass
class LoadSpec:
    """Everything ``load file`` / ``load image`` / the Load RPC asks for."""

    requests: list[ProgramRequest]
    path: str | None = None
    image_url: str | None = None
    image_digest: str | None = None  # the manifest pulled for image_url (set by images)
    pull_policy: str | None = None
    globals: dict[str, bytes] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    map_owner_id: int | None = None


@dataclass
class AttachSpec:
    """One attach request; ``params`` holds the type's fields (gRPC names)."""

    kind: BpfmanType
    params: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)


class Manager:
    def __init__(
        self,
        runtime_dir: str | None = None,
        config_path: str | None = None,
        lock_timeout: float | None = None,
    ) -> None:
        self.paths = Paths(runtime_root(runtime_dir))
        env_timeout = os.environ.get("BPFMAN_LOCK_TIMEOUT")
        self.lock_timeout = lock_timeout or parse.lock_timeout(env_timeout)
        self.config = Config.read(config_path)
        try:
            ensure_layout(self.paths)
            self.store = Store(self.paths.db, self.paths)
        except OSError as e:
            where = f" {e.filename}" if e.filename else ""
            raise BpfError(
                f"runtime dir {self.paths.root}:{where}: {e.strerror or e}", errno=e.errno or 0
            ) from None

    def xdp_mode(self, iface: str) -> str:
        return self.config.xdp_mode(iface)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Manager:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def writing(self) -> Iterator[WriterScope]:
        """Hold the writer lock for the block; the scope is what mutating helpers require."""
        with WriterLock(self.paths.lock, self.lock_timeout) as scope:
            yield scope

    # ------------------------------------------------------------------ records

    def program_record(self, prog_id: int) -> ProgramRecord:
        rec = self.store.program(prog_id)
        if rec is None:
            raise NotFoundError(f"no program with id {prog_id} is managed by bpfman")
        return rec

    def link_record(self, link_id: int) -> LinkRecord:
        rec = self.store.link(link_id)
        if rec is None:
            raise NotFoundError(f"no link with id {link_id}")
        return rec

    def open_program(self, rec: ProgramRecord) -> Any:
        """The kernel program behind *rec*, checked to be ours (same tag)."""
        from bpfman.program import Program

        path = self.paths.prog_pin(rec.id)
        try:
            prog = Program.from_pin(path)
        except BpfError:
            raise PreconditionError(
                f"program {rec.id} is in the database but its pin {path} is gone (run bpfman gc)"
            ) from None
        if prog.info().tag != rec.tag:
            prog.close()
            raise PreconditionError(f"the program pinned at {path} is not the one bpfman loaded")
        return prog

    # ------------------------------------------------------------------ load

    def load(self, spec: LoadSpec) -> list[ProgramRecord]:
        if not spec.requests:
            raise InputError("nothing to load: give --programs TYPE:NAME")
        limits.check_load(spec.metadata, spec.globals)
        if spec.path is not None:  # before the lock: a FIFO would block every writer
            safety.check_input_file(spec.path, "bytecode", safety.MAX_BYTECODE)
        with self.writing() as scope:
            return self._load(scope, spec)

    def _load(self, scope: WriterScope, spec: LoadSpec) -> list[ProgramRecord]:
        import bpfman
        from bpfman.manager import loadplan

        if spec.path is None:
            raise InputError("load needs a bytecode file path")
        owner: ProgramRecord | None = None
        if spec.map_owner_id is not None:
            owner = self.store.program(spec.map_owner_id)
            if owner is None:
                raise NotFoundError(f"--map-owner-id {spec.map_owner_id}: no such bpfman program")
        obj_spec = bpfman.open(spec.path)
        try:
            loadplan.configure(obj_spec, spec, owner.map_pin_path if owner else None)
            obj = obj_spec.load()
        finally:
            if not obj_spec._loaded:
                obj_spec.close()
        crash.point("load:after-kernel")
        records: list[ProgramRecord] = []
        with Undo() as undo, obj:
            progs = [obj.programs[r.name] for r in spec.requests]
            for prog in progs:
                pin = self.paths.prog_pin(prog.id)
                prog.pin(pin)
                undo.push(f"unpin {pin}", functools.partial(os.unlink, pin))
            crash.point("load:after-program-pins")
            # as upstream: with --map-owner-id the owner's map directory; else every program
            # of the load its own (the object's maps pinned in each), so any may go first
            maps_dirs = {
                prog.id: owner.map_pin_path if owner else self.paths.maps_dir(prog.id)
                for prog in progs
            }
            if owner is None:
                for maps_dir in maps_dirs.values():
                    # a dir under a fresh program id can only be an old program's leftover
                    safety.remove_own_tree(self.paths.fs, maps_dir)
                    os.mkdir(maps_dir, 0o700)
                    undo.push(
                        f"remove {maps_dir}",
                        functools.partial(safety.remove_own_tree, self.paths.fs, maps_dir),
                    )
                    for m in obj.maps.values():
                        m.pin(os.path.join(maps_dir, pin_name(m.name)))
            crash.point("load:after-map-pins")
            metadata = dict(spec.metadata)
            for req, prog in zip(spec.requests, progs, strict=True):
                rec = ProgramRecord(
                    id=prog.id,
                    name=req.name,
                    kind=req.kind,
                    retprobe=req.retprobe,
                    path=None if spec.image_url else os.path.abspath(spec.path),
                    given_path=None if spec.image_url else spec.path,
                    image_url=spec.image_url,
                    pull_policy=spec.pull_policy,
                    attach_fn=req.attach_fn,
                    map_owner_id=owner.id if owner else None,
                    map_pin_path=maps_dirs[prog.id],
                    tag=prog.info().tag,
                    globals=dict(spec.globals),
                    metadata=metadata,
                    image_digest=spec.image_digest if spec.image_url else None,
                )
                records.append(rec)
            with self.store.transaction():
                for rec in records:
                    self.store.add_program(rec)
            undo.commit()
        for rec in records:
            log.info("loaded %s %s as program %d", rec.type_word, rec.name, rec.id)
        return records

    # ------------------------------------------------------------------ attach

    def attach(self, prog_id: int, req: AttachSpec) -> LinkRecord:
        with self.writing() as scope:
            rec = self.program_record(prog_id)
            if req.kind != rec.kind:
                raise InputError(
                    f"program {prog_id} was loaded as {rec.type_word}: "
                    f"it cannot be attached as {req.kind.name.lower()}"
                )
            from bpfman.manager import attacher

            app = rec.metadata.get(APPLICATION_KEY)
            if app is not None and APPLICATION_KEY not in req.metadata:
                # as upstream: a link carries its program's application (list links filters)
                req = AttachSpec(req.kind, req.params, {**req.metadata, APPLICATION_KEY: app})
            prog = self.open_program(rec)
            with prog, Undo() as undo:
                link_id = self.store.next_link_id()
                netns = req.params.get("netns") if req.kind in NET_KINDS else None
                if netns:  # doctor must find this namespace's filters after a crash
                    intent.record(self.paths, link_id, str(netns))
                    undo.push(
                        "forget the intent", functools.partial(intent.clear, self.paths, link_id)
                    )
                result = attacher.attach(self, scope, rec, prog, req, link_id, undo)
                crash.point("attach:after-pin")
                with self.store.transaction():
                    self.store.add_link(
                        rec.id,
                        rec.kind,
                        result.kernel_link_id,
                        result.pin_path,
                        result.attach,
                        req.metadata,
                        link_id=link_id,
                    )
                    self.store.update_links(result.updates)
                    if isinstance(result.attach, NetAttach) and rec.kind == BpfmanType.TCX:
                        self._store_positions(scope, result.attach.hook)
                undo.commit()
                intent.clear(self.paths, link_id)
            log.info("attached program %d as link %d (%s)", prog_id, link_id, result.attach)
            return self.link_record(link_id)

    # ------------------------------------------------------------------ detach / unload

    def detach(self, link_id: int) -> None:
        with self.writing() as scope:
            self._detach(scope, self.link_record(link_id))

    def _detach(self, scope: WriterScope, link: LinkRecord) -> None:
        from bpfman.manager import attacher

        log.info("detaching link %d of program %d", link.id, link.program_id)
        updates = attacher.detach(self, scope, link)
        crash.point("detach:after-kernel")
        with self.store.transaction():
            self.store.delete_link(link.id)
            self.store.update_links(updates)
            if link.kind == BpfmanType.TCX and link.net is not None:
                self._store_positions(scope, link.net.hook)
            hooks.hand_on_qdisc(self, scope, link)

    def _store_positions(self, scope: WriterScope, hook: NetHook) -> None:
        """Record the kernel order of the tcx links on *hook* (inside a transaction)."""
        for link_id, position in hooks.tcx_positions(self, hook).items():
            link = self.store.link(link_id)
            if link is not None and link.net is not None and link.net.position != position:
                moved = replace(link.net, position=position)
                self.store.update_link(link_id, link.kernel_link_id, moved)

    def unload(self, prog_id: int) -> None:
        with self.writing() as scope:
            rec = self.program_record(prog_id)
            # as upstream: the maps' directory stays while another program uses it (the
            # owner may go first; the users' Maps Used By loses it)
            last_user = self.store.map_users(rec.map_pin_path) == [rec.id]
            for link in self.store.links(rec.id):
                self._detach(scope, link)
            crash.point("unload:after-links")
            pin = self.paths.prog_pin(rec.id)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(pin)
            crash.point("unload:after-program-unpin")
            if last_user:  # (the store computes map_pin_path from the ids)
                safety.remove_own_tree(self.paths.fs, rec.map_pin_path)
            crash.point("unload:after-map-unpin")
            with self.store.transaction():
                self.store.delete_program(rec.id)
            log.info("unloaded program %d", rec.id)

    # ------------------------------------------------------------------ queries

    def programs(self) -> list[ProgramRecord]:
        return self.store.programs()

    def links(self, program_id: int | None = None) -> list[LinkRecord]:
        return self.store.links(program_id)


def parse_requests(entries: list[str]) -> list[ProgramRequest]:
    return parse.program_requests(entries)
