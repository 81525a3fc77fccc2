"""One global writer lock (``flock`` on ``<runtime>/.lock``) for CLI processes and the daemon."""

from __future__ import annotations

import errno
import fcntl
import os
import time
from types import TracebackType

from bpfman.errors import BpfError


class LockTimeout(BpfError):
    """Another bpfman held the writer lock for the whole timeout (gRPC UNAVAILABLE)."""


class WriterScope:
    """Proof that the writer lock is held: what every helper that changes state requires.

    Only ``WriterLock`` makes one (``Manager.writing()`` hands it out), so mypy
    checks that mutating code runs under the lock. The lock is not re-entrant:
    code holding a scope passes it on and never takes the lock again.
    """

    __slots__ = ("_lock",)

    def __init__(self, lock: WriterLock) -> None:
        if lock._fd < 0:
            raise RuntimeError("a WriterScope needs the writer lock held")
        self._lock = lock

    @property
    def held(self) -> bool:
        return self._lock._fd >= 0


class WriterLock:
    def __init__(self, path: str, timeout: float = 30.0) -> None:
        self.path = path
        self.timeout = timeout
        self._fd = -1

    def __enter__(self) -> WriterScope:
        from bpfman.manager.safety import open_own_file

        fd = open_own_file(self.path, os.O_RDWR | os.O_CREAT, 0o600)  # never via a symlink
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    raise
                if time.monotonic() >= deadline:
                    holder = _read_holder(fd)
                    os.close(fd)
                    who = f" (pid {holder})" if holder else ""
                    raise LockTimeout(
                        f"another bpfman holds the lock{who}: gave up after {self.timeout:g}s"
                    ) from None
                time.sleep(0.02)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return WriterScope(self)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing releases the flock
            self._fd = -1


def _read_holder(fd: int) -> str:
    try:
        return os.pread(fd, 32, 0).decode().strip()
    except OSError:
        return ""
