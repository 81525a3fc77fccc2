"""The ``bpfman.v1.Bpfman`` service: each RPC is one Manager call (or query), nothing more.

Every write goes through the Manager, which takes the global writer lock
(``<runtime>/.lock``) for the operation: CLI processes and the daemon work
side by side. gRPC serves requests on a pool of threads; each thread has its
own Manager (SQLite connections belong to one thread), closed when the
thread ends. Failures become a
status code and a one-line message (``status.status_of``); with metrics on,
each request's RPC, status and duration go to the ``observe`` callback.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import grpc

from bpfman.manager import limits, query, safety
from bpfman.server import bpfman_pb2 as pb
from bpfman.server import bpfman_pb2_grpc as pb_grpc
from bpfman.server import bytecode, translate
from bpfman.server.reads import Reads
from bpfman.server.status import status_of

if TYPE_CHECKING:
    from bpfman.manager.core import Manager

log = logging.getLogger("bpfman.server")
R = TypeVar("R")
Handler = Callable[["BpfmanServicer", Any, grpc.ServicerContext], R]
Observer = Callable[[str, grpc.StatusCode, float], None]  # (rpc, status, seconds)


class Activity:
    """When the last request ended, and how many run now (for the idle timeout)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0
        self._last = time.monotonic()

    def begin(self) -> None:
        with self._lock:
            self._running += 1

    def end(self) -> None:
        with self._lock:
            self._running -= 1
            self._last = time.monotonic()

    def idle_for(self) -> float:
        """Seconds since the last request ended (0 while one runs)."""
        with self._lock:
            return 0.0 if self._running else time.monotonic() - self._last


def rpc(method: Handler[R]) -> Handler[R]:
    """Count the request as activity; turn its failure into a status code and one line."""

    @functools.wraps(method)
    def wrapper(self: BpfmanServicer, request: Any, context: grpc.ServicerContext) -> R:
        self.activity.begin()
        start = time.perf_counter()
        code = grpc.StatusCode.OK
        try:
            return method(self, request, context)
        except Exception as e:
            code, message = status_of(e)
            if code == grpc.StatusCode.INTERNAL:
                log.exception("%s failed", method.__name__)
            else:
                log.info("%s: %s: %s", method.__name__, code.name, message)
        finally:
            self.activity.end()
            if self.observe is not None:
                self.observe(method.__name__, code, time.perf_counter() - start)
        context.abort(code, message)

    return wrapper


class BpfmanServicer(pb_grpc.BpfmanServicer):
    def __init__(
        self,
        runtime_dir: str | None,
        config_path: str | None,
        images: bytecode.ImageSource | None = None,
        observe: Observer | None = None,
    ) -> None:
        self.runtime_dir = runtime_dir
        self.config_path = config_path
        self.images: bytecode.ImageSource = images or bytecode.OciImages()
        self.activity = Activity()
        self.observe = observe  # told of each request (the metrics)
        self._local = threading.local()  # a thread's Manager closes when the thread ends
        self._reads: Reads | None = None
        self._reads_lock = threading.Lock()

    def reads(self, mgr: Manager) -> Reads:
        """List and Get answers shared by every worker thread (made with the first)."""
        with self._reads_lock:
            if self._reads is None:
                self._reads = Reads(mgr.paths.db)
            return self._reads

    def close(self) -> None:
        with self._reads_lock:
            if self._reads is not None:
                self._reads.close()
                self._reads = None

    def manager(self) -> Manager:
        """This thread's Manager (made on its first request)."""
        mgr: Manager | None = getattr(self._local, "manager", None)
        if mgr is None:
            from bpfman.manager.core import Manager

            mgr = Manager(self.runtime_dir, config_path=self.config_path)
            self._local.manager = mgr
        return mgr

    # ------------------------------------------------------------------ RPCs

    @rpc
    def Load(self, request: pb.LoadRequest, context: grpc.ServicerContext) -> pb.LoadResponse:
        mgr = self.manager()
        spec = bytecode.locate(request.bytecode, translate.load_spec(request), mgr, self.images)
        names = translate.return_probe_candidates(spec)
        if names and spec.path:
            # the file is read here, before Manager.load
            safety.check_input_file(spec.path, "bytecode", safety.MAX_BYTECODE)
            spec = translate.with_return_probes(spec, bytecode.program_sections(spec.path, names))
        records = mgr.load(spec)
        return translate.load_response([query.program_result(mgr, r.id) for r in records])

    @rpc
    def Unload(self, request: pb.UnloadRequest, context: grpc.ServicerContext) -> pb.UnloadResponse:
        self.manager().unload(request.id)
        return pb.UnloadResponse()

    @rpc
    def Attach(self, request: pb.AttachRequest, context: grpc.ServicerContext) -> pb.AttachResponse:
        link = self.manager().attach(request.id, translate.attach_spec(request))
        return pb.AttachResponse(link_id=link.id)

    @rpc
    def Detach(self, request: pb.DetachRequest, context: grpc.ServicerContext) -> pb.DetachResponse:
        self.manager().detach(request.link_id)
        return pb.DetachResponse()

    @rpc
    def List(self, request: pb.ListRequest, context: grpc.ServicerContext) -> pb.ListResponse:
        mgr = self.manager()
        response = self.reads(mgr).list(mgr, request)
        size = response.ByteSize()
        if size > limits.GRPC_MESSAGE_LIMIT:
            raise limits.TooLarge(
                f"the list of {len(response.results)} programs is {size} bytes, over the"
                f" {limits.GRPC_MESSAGE_LIMIT} a client receives: narrow it"
                " (bpfman_programs_only, program_type, match_metadata)"
            )
        return response

    @rpc
    def PullBytecode(
        self, request: pb.PullBytecodeRequest, context: grpc.ServicerContext
    ) -> pb.PullBytecodeResponse:
        self.images.pull(self.manager(), request.image)
        return pb.PullBytecodeResponse()

    @rpc
    def Get(self, request: pb.GetRequest, context: grpc.ServicerContext) -> pb.GetResponse:
        mgr = self.manager()
        return self.reads(mgr).get(mgr, request.id)


def add_to_server(servicer: BpfmanServicer, server: grpc.Server) -> None:
    pb_grpc.add_BpfmanServicer_to_server(servicer, server)  # type: ignore[no-untyped-call]
