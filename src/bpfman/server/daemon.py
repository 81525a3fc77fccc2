"""``bpfman serve``: the gRPC server on its Unix socket, until a signal or the idle timeout.

The socket (default ``/run/bpfman-sock/bpfman.sock``) is created with mode
0660 (group ``bpfman`` if that group exists) in a parent directory made if
missing (0750 with that group, else 0700); a stale socket file (nobody
listening) is replaced, a live one is refused. Under systemd socket
activation the passed socket is served instead (``activation``). SIGTERM or
SIGINT stops the server, waiting a little for requests in flight; the idle
timeout does the same after that many seconds without a request. State lives
in bpffs and SQLite, so stopping loses nothing. The socket file goes with us.
"""

from __future__ import annotations

import contextlib
import errno as _errno
import logging
import os
import select
import shutil
import signal
import socket
import stat
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import grpc

from bpfman.errors import BpfError
from bpfman.server import DEFAULT_SOCKET, activation
from bpfman.server.servicer import BpfmanServicer, add_to_server

SOCKET_MODE = 0o660
SOCKET_DIR_MODE = 0o750
SOCKET_GROUP = "bpfman"  # as upstream: members may use the socket
WORKERS = 4
GRACE_S = 5.0  # how long requests in flight may finish after a stop
log = logging.getLogger("bpfman.server")


@dataclass(frozen=True)
class Options:
    runtime_dir: str | None = None
    config_path: str | None = None
    socket_path: str = DEFAULT_SOCKET
    idle_timeout: float | None = None  # seconds; None: never
    metrics: str | None = None  # HOST:PORT of the Prometheus exporter; None: none
    csi_support: bool = False  # also serve the CSI node plugin (bpfman.server.csi)
    csi_socket: str | None = None  # default <runtime>/csi/csi.sock


def serve(opts: Options) -> None:
    """Run the daemon until SIGTERM/SIGINT or the idle timeout."""
    from bpfman.manager.core import Manager

    Manager(opts.runtime_dir, config_path=opts.config_path).close()  # bad config: fail now
    with contextlib.ExitStack() as extras:
        observe = None
        if opts.metrics is not None:
            from bpfman.server.metrics import exporter

            requests = extras.enter_context(
                exporter(opts.metrics, opts.runtime_dir, opts.config_path)
            )
            observe = requests.observe
        if opts.csi_support:
            extras.enter_context(_csi_serving(opts))
        _serve(opts, BpfmanServicer(opts.runtime_dir, opts.config_path, observe=observe))


@contextlib.contextmanager
def _csi_serving(opts: Options) -> Iterator[None]:
    """The CSI node plugin's server on its own socket, while inside."""
    from bpfman.manager.paths import runtime_root
    from bpfman.server import csi

    path = opts.csi_socket or os.path.join(runtime_root(opts.runtime_dir), "csi", "csi.sock")
    workers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="csi")
    server = grpc.server(workers)
    csi.add_to_server(opts.runtime_dir, opts.config_path, server)
    try:
        with _own_socket(server, path):
            server.start()
            log.info("serving CSI %s on unix:%s", csi.DRIVER_NAME, path)
            try:
                yield
            finally:
                server.stop(GRACE_S).wait()
    finally:
        workers.shutdown(wait=True)


def _serve(opts: Options, servicer: BpfmanServicer) -> None:
    workers = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="rpc")
    server = grpc.server(workers)
    add_to_server(servicer, server)
    try:
        with StopSignals() as stop, _listening(server, opts.socket_path) as where:
            server.start()
            log.info("serving bpfman.v1.Bpfman on %s", where)
            _wait(stop, servicer, opts.idle_timeout)
            server.stop(GRACE_S).wait()
    finally:
        workers.shutdown(wait=True)  # each worker's Manager (its SQLite connection) closes
        servicer.close()


def _wait(stop: StopSignals, servicer: BpfmanServicer, idle_timeout: float | None) -> None:
    while True:
        if idle_timeout is None:
            if stop.wait(3600):
                return
            continue
        idle = servicer.activity.idle_for()
        if idle >= idle_timeout:
            log.info("no request for %gs: exiting", idle_timeout)
            return
        if stop.wait(idle_timeout - idle if idle else min(idle_timeout, 1.0)):
            return


class StopSignals:
    """SIGTERM and SIGINT, noticed through a pipe (``signal.set_wakeup_fd``).

    The C-level handler writes to the pipe whichever thread the kernel
    delivered the signal to, so the main thread's ``wait`` always wakes up.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __enter__(self) -> StopSignals:
        self._r, self._w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._old_fd = signal.set_wakeup_fd(self._w, warn_on_full_buffer=False)
        self._old = {sig: signal.signal(sig, lambda *_: None) for sig in self.SIGNALS}
        return self

    def wait(self, timeout: float) -> bool:
        """Whether a stop signal came within *timeout* seconds."""
        ready, _, _ = select.select([self._r], [], [], timeout)
        return bool(ready)

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)
        signal.set_wakeup_fd(self._old_fd)
        os.close(self._r)
        os.close(self._w)


@contextlib.contextmanager
def _listening(server: grpc.Server, path: str) -> Iterator[str]:
    """Bind *server*: to systemd's socket (through a relay) if activated, else to *path*."""
    passed = activation.activated_socket()
    if passed is None:
        with _own_socket(server, path):
            yield f"unix:{path}"
        return
    private = tempfile.mkdtemp(prefix="bpfman-serve-")  # mode 0700: only root reaches it
    inner = os.path.join(private, "grpc.sock")
    relay = activation.Relay(passed, inner)
    try:
        _bind(server, inner)
        relay.start()
        yield f"systemd socket {passed.getsockname() or 'fd 3'}"
    finally:
        relay.close()
        shutil.rmtree(private, ignore_errors=True)


def socket_group() -> int | None:
    """The gid of the ``bpfman`` group (its members may use the socket), if there is one."""
    import grp

    try:
        return grp.getgrnam(SOCKET_GROUP).gr_gid
    except KeyError:
        return None


def _socket_dir(path: str) -> int | None:
    """Make the socket's directory if missing; the one bpfman makes, and the default one, are
    root's with mode 0750 and the ``bpfman`` group (0700 without the group), so that only
    root and that group reach the socket. Returns the group to give the socket."""
    gid = socket_group()
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(os.path.dirname(d), exist_ok=True)
    try:
        os.mkdir(d, 0o700)
    except FileExistsError:
        if d != os.path.dirname(DEFAULT_SOCKET):
            return gid  # the caller's own directory: its permissions are the caller's
    st = os.lstat(d)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
        raise BpfError(f"refusing to listen in {d}: not a directory of uid {os.geteuid()}")
    os.chown(d, -1, gid if gid is not None else st.st_gid)
    os.chmod(d, SOCKET_DIR_MODE if gid is not None else 0o700)
    return gid


@contextlib.contextmanager
def _own_socket(server: grpc.Server, path: str) -> Iterator[None]:
    gid = _socket_dir(path)
    _remove_stale(path)
    old = os.umask(0o777 & ~SOCKET_MODE)
    try:
        _bind(server, path)
    finally:
        os.umask(old)
    os.chmod(path, SOCKET_MODE)
    if gid is not None:
        os.chown(path, -1, gid)
    ours = os.stat(path).st_ino
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            if os.stat(path).st_ino == ours:
                os.unlink(path)


def _bind(server: grpc.Server, path: str) -> None:
    try:
        server.add_insecure_port(f"unix:{path}")
    except RuntimeError as e:
        raise BpfError(f"cannot listen on {path}: {e}", errno=_errno.EADDRINUSE) from None


def _remove_stale(path: str) -> None:
    """Remove a socket file nobody listens on; refuse a live one or any other file."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise BpfError(f"{path} exists and is not a socket", errno=_errno.EEXIST)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(path)
        except (ConnectionRefusedError, FileNotFoundError):
            pass
        else:
            raise BpfError(f"another daemon is listening on {path}", errno=_errno.EADDRINUSE)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
