"""systemd socket activation: the listening socket handed over as fd 3, and a relay for it.

systemd sets ``LISTEN_PID`` (our pid) and ``LISTEN_FDS`` (how many fds from
3 on). gRPC's Python server cannot adopt an existing listening socket, so
when activated the daemon serves on a private socket and ``Relay`` accepts
connections on fd 3 and pipes each one, byte for byte, to that socket.
"""

from __future__ import annotations

import contextlib
import errno as _errno
import functools
import logging
import os
import socket
import threading
from collections.abc import MutableMapping

from bpfman.errors import BpfError

LISTEN_FDS_START = 3
log = logging.getLogger("bpfman.server")


def activation_fd_count(env: MutableMapping[str, str], pid: int) -> int:
    """How many fds systemd passed to process *pid* (0: not socket activated)."""
    if env.get("LISTEN_PID", "") != str(pid):
        return 0
    try:
        return max(0, int(env.get("LISTEN_FDS", "0")))
    except ValueError:
        return 0


def activated_socket(env: MutableMapping[str, str] | None = None) -> socket.socket | None:
    """The listening socket systemd passed (fd 3), or None; clears the ``LISTEN_*`` variables."""
    env = os.environ if env is None else env
    count = activation_fd_count(env, os.getpid())
    for key in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        env.pop(key, None)
    if count == 0:
        return None
    if count > 1:
        log.warning("socket activation passed %d fds: serving on the first (fd 3)", count)
    try:
        sock = socket.socket(fileno=LISTEN_FDS_START)
    except OSError as e:
        raise BpfError(
            f"socket activation: fd 3 is not a socket ({e.strerror})", errno=e.errno or 0
        ) from None
    listening = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
    if sock.family != socket.AF_UNIX or sock.type != socket.SOCK_STREAM or not listening:
        sock.detach()
        raise BpfError(
            "socket activation: fd 3 is not a listening Unix stream socket", errno=_errno.EINVAL
        )
    sock.set_inheritable(False)
    return sock


class Relay:
    """Accept on *listener*; connect each client to *target* (a Unix socket path) and pipe."""

    def __init__(self, listener: socket.socket, target: str) -> None:
        self.listener = listener
        self.target = target
        self._stop = threading.Event()
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept_loop, name="relay", daemon=True)

    def start(self) -> None:
        self.listener.settimeout(0.2)  # to notice close()
        self._thread.start()

    def close(self) -> None:
        """Stop accepting and cut the open connections; the listener stays (systemd's)."""
        self._stop.set()
        if self._thread.is_alive():  # not started when binding the private socket failed
            self._thread.join()
        with self._lock:
            for conn in self._conns:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            self._conns.clear()
        self.listener.close()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError as e:
                if self._stop.is_set():
                    return
                log.warning("relay: accept failed: %s", e.strerror)
                continue
            client.settimeout(None)
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                upstream.connect(self.target)
            except OSError as e:
                log.warning("relay: cannot reach %s: %s", self.target, e.strerror)
                client.close()
                upstream.close()
                continue
            with self._lock:
                self._conns.update((client, upstream))
            done = threading.Barrier(2, action=functools.partial(self._drop, client, upstream))
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(src, dst, done), daemon=True).start()

    def _drop(self, *conns: socket.socket) -> None:
        with self._lock:
            for conn in conns:
                self._conns.discard(conn)
                conn.close()


def _pump(src: socket.socket, dst: socket.socket, done: threading.Barrier) -> None:
    """Copy *src* to *dst* until end of file; then pass the end on and wait for the other way."""
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    with contextlib.suppress(OSError):
        dst.shutdown(socket.SHUT_WR)
    with contextlib.suppress(threading.BrokenBarrierError):
        done.wait()
