"""What ``RingBuffer`` and ``PerfBuffer`` share: typed events, waiting and iteration.

An event source has one epoll fd that becomes readable when any of its maps has
data. ``poll``/``consume`` run callbacks; events of maps added without a callback
are queued and handed out by iteration (``for ev in buf``, ``async for ev in
buf``), which reads them in bounded chunks.
"""

from __future__ import annotations

import asyncio
import ctypes
import re
import select
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self

from bpfman.btf import KIND_STRUCT, KIND_TYPEDEF, KIND_UNION, check_ctype
from bpfman.errors import BpfError

if TYPE_CHECKING:
    from bpfman.map import Map

Callback = Callable[[Any], object]

# how many records one iteration step reads from the kernel at most
ITER_CHUNK = 512

_CTYPES = (ctypes.Structure, ctypes.Union, ctypes.Array, ctypes._SimpleCData)


@dataclass(frozen=True)
class EventType:
    """The ctypes type events are decoded to, and the BTF type it was checked against."""

    ctype: type[Any]
    size: int
    btf_name: str | None  # None: the object's BTF does not describe it (sizes checked only)


def snake_case(name: str) -> str:
    """``ExecEvent`` -> ``exec_event``: the C name a ctypes class most likely mirrors."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def event_type(m: Map, event: type[Any] | str | None, btf_name: str | None) -> EventType | None:
    """Check *event* against the struct of that name in *m*'s BTF.

    The BTF name is *btf_name* when given (then it must exist), else the class
    name or its snake_case form. Types only used inside BPF programs are not in
    an object's BTF; such events are checked by size only, record by record.
    A string *event* names a BTF type: its ctypes class is made from the BTF.
    """
    if isinstance(event, str):
        if btf_name is not None:
            raise BpfError(f"map {m.name}: btf_name given with a BTF type name as event")
        if m.btf is None:
            raise BpfError(f"map {m.name} has no BTF: no type {event!r} to decode events to")
        cls = m.btf.ctype(event)
        return EventType(cls, ctypes.sizeof(cls), event)
    if event is None:
        if btf_name is not None:
            raise BpfError(f"map {m.name}: btf_name given without an event type")
        return None
    if not (isinstance(event, type) and issubclass(event, _CTYPES)):
        raise BpfError(f"map {m.name}: event must be a ctypes type, got {event!r}")
    size = ctypes.sizeof(event)
    names = (
        [btf_name]
        if btf_name
        else list(dict.fromkeys([event.__name__, snake_case(event.__name__)]))
    )
    btf = m.btf
    if btf is None:
        if btf_name:
            raise BpfError(
                f"map {m.name} has no BTF: cannot check {event.__name__} against {btf_name}"
            )
        return EventType(event, size, None)
    for name in names:
        for kind in (KIND_STRUCT, KIND_UNION, KIND_TYPEDEF):
            t = btf.find(name, kind)
            if t is not None:
                check_ctype(btf, t.id, event, f"event type of map {m.name}:")
                return EventType(event, size, name)
    if btf_name:
        raise BpfError(f"map {m.name}: no struct, union or typedef {btf_name!r} in its BTF")
    return EventType(event, size, None)


def _until(timeout: float | None, end: float | None) -> float | None:
    """How long the next wait may last: the idle *timeout*, cut at the deadline *end*."""
    if end is None:
        return timeout
    left = max(end - time.monotonic(), 0.0)
    return left if timeout is None else min(timeout, left)


class EventSource:
    """Waiting, iteration and life cycle of an event buffer; subclasses read the maps."""

    _what = "event buffer"

    def __init__(self) -> None:
        self._epoll: select.epoll | None = select.epoll()
        self._pending: deque[Any] = deque()

    # ------------------------------------------------------------------ subclass hooks

    def _consume(self, limit: int | None) -> int:
        """Hand over what is in the maps (at most about *limit* records); return the count."""
        raise NotImplementedError

    def _free(self) -> None:
        raise NotImplementedError

    def _empty(self) -> bool:
        """True when no map was added."""
        raise NotImplementedError

    # ------------------------------------------------------------------ helpers

    def _ep(self) -> select.epoll:
        if self._epoll is None:
            raise BpfError(f"{self._what} is closed")
        return self._epoll

    def _register(self, fd: int) -> None:
        self._ep().register(fd, select.EPOLLIN)

    def _wait(self, timeout: float | None) -> bool:
        """Block until some map has data (True) or *timeout* seconds pass (False)."""
        ep = self._ep()
        return bool(ep.poll(-1 if timeout is None else max(timeout, 0.0), 1))

    # ------------------------------------------------------------------ callback style

    def consume(self) -> int:
        """Hand over everything available now, without waiting; returns the event count.

        Callbacks run; events of maps without a callback are queued for iteration.
        """
        self._ep()
        return self._consume(None)

    def poll(self, timeout: float | None = None) -> int:
        """Wait up to *timeout* seconds (None: forever) for events, then ``consume()``.

        Returns the number of events handed over (0: the timeout passed).
        """
        n = self.consume()
        if n:
            return n
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return 0
            if self._wait(left):
                n = self._consume(None)
                if n:
                    return n

    # ------------------------------------------------------------------ iterator style

    def __iter__(self) -> Iterator[Any]:
        return self.events()

    def events(self, timeout: float | None = None, deadline: float | None = None) -> Iterator[Any]:
        """Yield events of the maps added without a callback (callbacks of the others run).

        Ends when no event came for *timeout* seconds (idle), or *deadline*
        seconds after the call even while events keep coming; None (both by
        default) waits forever. Events not handed out yet stay queued for the
        next iteration.
        """
        if self._empty():
            raise BpfError(f"{self._what} has no maps: add() one first")
        end = None if deadline is None else time.monotonic() + deadline
        while True:
            while self._pending:
                if end is not None and time.monotonic() >= end:
                    return
                yield self._pending.popleft()
            if end is not None and time.monotonic() >= end:
                return
            if self._consume(ITER_CHUNK):
                continue
            wait = _until(timeout, end)
            if not self._wait(wait) and not self._consume(ITER_CHUNK):
                return

    # ------------------------------------------------------------------ asyncio

    async def _readable(self, timeout: float | None) -> bool:
        """Wait in the running loop until the epoll fd is readable (its add_reader)."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        fd = self._ep().fileno()

        def ready() -> None:
            if not fut.done():
                fut.set_result(None)

        loop.add_reader(fd, ready)
        try:
            if timeout is None:
                await fut
            else:
                await asyncio.wait_for(fut, timeout)
            return True
        except TimeoutError:
            return False
        finally:
            loop.remove_reader(fd)

    async def apoll(self, timeout: float | None = None) -> int:
        """``poll()`` for asyncio: waits in the running event loop."""
        n = self.consume()
        deadline = None if timeout is None else time.monotonic() + timeout
        while not n:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return 0
            if await self._readable(left):
                n = self._consume(None)
        return n

    def __aiter__(self) -> AsyncIterator[Any]:
        return self.aevents()

    async def aevents(
        self, timeout: float | None = None, deadline: float | None = None
    ) -> AsyncIterator[Any]:
        """``events()`` for asyncio (``async for ev in buf`` waits forever)."""
        if self._empty():
            raise BpfError(f"{self._what} has no maps: add() one first")
        end = None if deadline is None else time.monotonic() + deadline
        while True:
            while self._pending:
                if end is not None and time.monotonic() >= end:
                    return
                yield self._pending.popleft()
            if end is not None and time.monotonic() >= end:
                return
            if self._consume(ITER_CHUNK):
                continue
            wait = _until(timeout, end)
            if not await self._readable(wait) and not self._consume(ITER_CHUNK):
                return

    # ------------------------------------------------------------------ life cycle

    @property
    def closed(self) -> bool:
        """True once ``close()`` has run."""
        return self._epoll is None

    def close(self) -> None:
        """Free everything the buffer holds in the kernel and in memory (idempotent)."""
        if self._epoll is None:
            return
        try:
            self._free()
        finally:
            self._epoll.close()
            self._epoll = None
            self._pending.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
