"""The daemon's List and Get answers, kept while neither the store nor the kernel's programs change.

An agent polls List and Get for every program it manages, many clients at
once: rebuilding each answer (store rows, one ``bpf()`` read per program,
the messages) would cost the daemon's whole CPU. So answers are kept, each
with what it was built from:

- the store's version: ``PRAGMA data_version`` on a connection of our own
  that never writes, which changes whenever any other connection (a worker
  thread of this daemon, a CLI process) commits. It is read *before* the
  store, so an answer is never kept under a version newer than its data;
- the kernel's program ids (List: the whole enumeration, one syscall per
  program; Get: that the id is still there). A kernel program's facts
  (KernelProgramInfo) never change while its id lives and ids are not
  reused (the kernel allocates them cyclically over 2^31), so they are read
  once per program and forgotten when the id goes.

A store change (any commit) makes the next List rebuild its answer, once
(the other threads asking meanwhile wait for it), reusing each program's
message when its dicts are the same as last time: only what changed is
made again.

Readers never take the writer lock and read the store in one WAL snapshot
(``Store.snapshot``): a Load or Unload in progress neither delays nor
confuses them. Caveat: a program given another map after load
(``BPF_PROG_BIND_MAP``, not something bpfman does) keeps its old map ids here.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from bpfman.ids import program_ids
from bpfman.manager import query
from bpfman.manager.readonly import in_kernel, kernel_info_by_id
from bpfman.server import bpfman_pb2 as pb
from bpfman.server import translate

if TYPE_CHECKING:
    from bpfman.manager.core import Manager

LISTS_KEPT = 16  # distinct List requests whose answers are kept
GETS_KEPT = 4096  # programs whose Get answers are kept


class Reads:
    """List and Get for every worker thread of one daemon."""

    def __init__(self, db_path: str) -> None:
        self._lock = threading.Lock()
        # only ever reads data_version: any other connection's commit changes it
        self._probe = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None)
        self._kernel: dict[int, dict[str, Any]] = {}
        self._lists: OrderedDict[bytes, tuple[tuple[int, tuple[int, ...]], pb.ListResponse]]
        self._lists = OrderedDict()
        self._gets: OrderedDict[int, tuple[int, pb.GetResponse]] = OrderedDict()
        # program id -> (its info and kernel_info dicts, the ListResult made of them)
        self._results: dict[int, tuple[tuple[Any, Any], pb.ListResponse.ListResult]] = {}
        self._building: dict[bytes, threading.Lock] = {}

    def close(self) -> None:
        with self._lock:
            self._probe.close()

    def store_version(self) -> int:
        with self._lock:
            return int(self._probe.execute("PRAGMA data_version").fetchone()[0])

    def _kernel_info(self, prog_id: int) -> dict[str, Any] | None:
        """KernelProgramInfo of a program known to be in the kernel now (None if it went)."""
        info = self._kernel.get(prog_id)
        if info is None:
            info = kernel_info_by_id(prog_id)
            if info is not None:
                with self._lock:
                    self._kernel[prog_id] = info
        return info

    def _forget(self, alive: set[int]) -> None:
        """Drop what is kept about programs no longer in the kernel."""
        with self._lock:
            for gone in [i for i in self._kernel if i not in alive]:
                del self._kernel[gone]
            for gone in [i for i in self._gets if i not in alive]:
                del self._gets[gone]
            for gone in [i for i in self._results if i not in alive]:
                del self._results[gone]

    def _result(self, result: dict[str, Any]) -> pb.ListResponse.ListResult:
        """The ListResult of *result*: last time's message when its dicts are the same."""
        prog_id = result["kernel_info"]["id"]
        made_of = (result.get("info"), result["kernel_info"])
        kept = self._results.get(prog_id)
        if kept is not None and kept[0] == made_of:
            return kept[1]
        message = translate.list_result(result)
        with self._lock:
            self._results[prog_id] = (made_of, message)
        return message

    def _kept_list(self, key: bytes) -> tuple[tuple[int, tuple[int, ...]], pb.ListResponse | None]:
        """(what an answer to *key* must be made of now, the kept answer if it is that)."""
        version = self.store_version()
        ids = tuple(program_ids())
        self._forget(set(ids))
        kept = self._lists.get(key)
        if kept is not None and kept[0] == (version, ids):
            return kept[0], kept[1]
        return (version, ids), None

    def list(self, mgr: Manager, request: pb.ListRequest) -> pb.ListResponse:
        key = request.SerializeToString(deterministic=True)
        made_of, kept = self._kept_list(key)
        if kept is not None:
            return kept
        with self._lock:
            building = self._building.setdefault(key, threading.Lock())
        if not building.acquire(blocking=False):  # another thread rebuilds: wait for its answer
            building.acquire()
            made_of, kept = self._kept_list(key)
            if kept is not None:
                building.release()
                return kept
        try:
            _, ids = made_of
            alive = set(ids)

            def read_kernel(prog_id: int) -> dict[str, Any] | None:
                return self._kernel_info(prog_id) if prog_id in alive else None

            has_type = request.HasField("program_type")
            results = query.list_programs(
                mgr,
                show_all=not request.bpfman_programs_only,
                program_type=str(request.program_type) if has_type else None,
                selector=dict(request.match_metadata),
                read_kernel=read_kernel,
                kernel_ids=ids,
            )
            response = pb.ListResponse(results=[self._result(r) for r in results])
            with self._lock:
                self._lists[key] = (made_of, response)
                self._lists.move_to_end(key)
                while len(self._lists) > LISTS_KEPT:
                    dropped, _ = self._lists.popitem(last=False)
                    self._building.pop(dropped, None)
            return response
        finally:
            building.release()

    def get(self, mgr: Manager, prog_id: int) -> pb.GetResponse:
        version = self.store_version()
        if in_kernel(prog_id):
            kept = self._gets.get(prog_id)
            if kept is not None and kept[0] == version:
                return kept[1]
            read_kernel = self._kernel_info
        else:
            with self._lock:
                self._kernel.pop(prog_id, None)
                self._gets.pop(prog_id, None)
            read_kernel = None  # NotFoundError, worded as for the CLI
        response = translate.get_response(query.program_result(mgr, prog_id, read_kernel))
        with self._lock:
            self._gets[prog_id] = (version, response)
            while len(self._gets) > GETS_KEPT:
                self._gets.popitem(last=False)
        return response

