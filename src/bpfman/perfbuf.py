"""Perf buffers (``BPF_MAP_TYPE_PERF_EVENT_ARRAY``) through libbpf's ``perf_buffer``.

    pb = bpfman.PerfBuffer()
    pb.add(obj.maps["events"], on_event, event=Event, pages=64)
    with pb:                       # create it before the programs emit: samples
        pb.poll(timeout=1.0)       # written while no buffer is open are dropped
    print(pb.lost)

Each map gets a libbpf ``perf_buffer`` (one perf event and ring of *pages*
pages per CPU, its fds put into the map); their epoll fds are watched by the
buffer's own epoll fd. Samples a full per-CPU ring could not take are counted
by the kernel and reported when space frees up: ``lost`` totals them, and the
*lost* callback gets ``(cpu, count)``.

Raw samples carry the kernel's padding: a payload of n bytes arrives as
``bytes`` of ``round_up(n + 4, 8) - 4`` bytes. Typed events take the first
``sizeof(event)`` bytes.
"""

from __future__ import annotations

import ctypes
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bpfman import _libbpf
from bpfman._events import Callback, EventSource, EventType, event_type
from bpfman._libbpf import lib
from bpfman.errors import BpfError, from_errno
from bpfman.kinds import MapType
from bpfman.map import Map

LostCallback = Callable[[int, int], object]


@dataclass(frozen=True)
class PerfStats:
    events: int  # samples handed over
    lost: int  # samples the kernel dropped because a per-CPU ring was full


class _Perf:
    """One perf event array map and its libbpf perf_buffer."""

    def __init__(
        self,
        owner: PerfBuffer,
        m: Map,
        callback: Callback | None,
        etype: EventType | None,
        pages: int,
        lost: LostCallback | None,
    ) -> None:
        if m.type != MapType.PERF_EVENT_ARRAY:
            raise BpfError(f"map {m.name} is not a perf event array (type {m.type!r})")
        if pages <= 0 or pages & (pages - 1):
            raise BpfError(f"perf buffer pages must be a power of two, got {pages}")
        self.owner = owner
        self.map_id = m.id
        self.name = m.name
        self.callback = callback
        self.etype = etype
        self.lost_callback = lost
        self.events = 0
        self.lost = 0
        self.backlog: deque[Any] = deque()  # samples read after a callback raised
        self._sample_fn = _libbpf.perf_sample_fn(self._on_sample)
        self._lost_fn = _libbpf.perf_lost_fn(self._on_lost)
        with _libbpf.capture() as log:
            ptr = lib.perf_buffer__new(m.fd, pages, self._sample_fn, self._lost_fn, None, None)
        if not ptr:
            raise from_errno(f"cannot open a perf buffer on map {m.name}", _libbpf.errno(), log)
        self.ptr: int = ptr
        self._finalizer = weakref.finalize(self, lib.perf_buffer__free, ptr)
        self.epoll_fd = int(lib.perf_buffer__epoll_fd(ptr))

    def close(self) -> None:
        self._finalizer()

    # ------------------------------------------------------------------ libbpf callbacks

    def _on_sample(self, _ctx: int | None, _cpu: int, data: int | None, size: int) -> None:
        owner = self.owner
        try:
            et = self.etype
            if et is None:
                ev: Any = ctypes.string_at(data or 0, size) if size else b""
            elif size < et.size:
                raise BpfError(
                    f"perf buffer {self.name}: a sample of {size} bytes, "
                    f"{et.ctype.__name__} needs at least {et.size}"
                )
            else:
                ev = et.ctype.from_buffer_copy(ctypes.string_at(data or 0, et.size))
            self.events += 1
            owner._count += 1
            if self.callback is None:
                owner._pending.append(ev)
            elif owner._error is not None:
                self.backlog.append(ev)  # handed to the callback by the next call
            else:
                self.callback(ev)
        except BaseException as e:  # raised again once libbpf returns
            if owner._error is None:
                owner._error = e

    def _on_lost(self, _ctx: int | None, cpu: int, count: int) -> None:
        self.lost += count
        if self.lost_callback is not None and self.owner._error is None:
            try:
                self.lost_callback(cpu, count)
            except BaseException as e:
                self.owner._error = e

    # ------------------------------------------------------------------ reading

    def flush_backlog(self) -> int:
        n = 0
        while self.backlog:
            ev = self.backlog.popleft()
            n += 1
            assert self.callback is not None
            self.callback(ev)
        return n

    def consume(self) -> None:
        err = lib.perf_buffer__consume(self.ptr)
        if err < 0 and self.owner._error is None:
            self.owner._error = from_errno(f"reading perf buffer {self.name}", err)


class PerfBuffer(EventSource):
    """Samples from one or more perf event array maps, by callback, iteration or asyncio.

    ``add(map, callback, event=Type, pages=N, lost=fn)`` per map (or the same as
    constructor arguments for one map); *event* is checked against BTF as in
    ``RingBuffer.add``. Without a callback a map's samples are queued for
    ``for ev in pb`` / ``pb.events(timeout)`` / ``async for ev in pb``.
    """

    _what = "perf buffer"

    def __init__(
        self,
        map: Map | None = None,
        callback: Callback | None = None,
        *,
        event: type[Any] | str | None = None,
        btf_name: str | None = None,
        pages: int = 64,
        lost: LostCallback | None = None,
    ) -> None:
        super().__init__()
        self._bufs: list[_Perf] = []
        self._count = 0
        self._error: BaseException | None = None
        if map is not None:
            self.add(map, callback, event=event, btf_name=btf_name, pages=pages, lost=lost)

    def add(
        self,
        map: Map,
        callback: Callback | None = None,
        *,
        event: type[Any] | str | None = None,
        btf_name: str | None = None,
        pages: int = 64,
        lost: LostCallback | None = None,
    ) -> PerfBuffer:
        """Read *map* too, with a ring of *pages* pages (a power of two) per CPU.

        *event* is a ctypes type or a BTF type name, as for ``RingBuffer.add``.
        """
        self._ep()
        if any(b.map_id == map.id for b in self._bufs):
            raise BpfError(f"map {map.name} is already in this perf buffer")
        etype = event_type(map, event, btf_name)
        buf = _Perf(self, map, callback, etype, pages, lost)
        try:
            self._register(buf.epoll_fd)
        except BaseException:
            buf.close()
            raise
        self._bufs.append(buf)
        return self

    @property
    def lost(self) -> int:
        """Samples dropped by the kernel (full per-CPU rings), over every map so far."""
        return sum(b.lost for b in self._bufs)

    def stats(self) -> dict[str, PerfStats]:
        """Per map name: samples handed over and samples lost."""
        return {b.name: PerfStats(b.events, b.lost) for b in self._bufs}

    def _empty(self) -> bool:
        return not self._bufs

    def _consume(self, limit: int | None) -> int:
        """Everything the per-CPU rings hold (they are small: *limit* is not needed)."""
        self._ep()
        n = 0
        for b in self._bufs:
            n += b.flush_backlog()
        self._count = 0
        self._error = None
        try:
            for b in self._bufs:
                b.consume()
        finally:
            n += self._count
            error, self._error = self._error, None
        if error is not None:
            raise error
        return n

    def _free(self) -> None:
        for b in self._bufs:  # kept: ``lost`` and ``stats()`` stay readable
            b.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else ", ".join(b.name for b in self._bufs)
        return f"<PerfBuffer {state}>"


__all__ = ["PerfBuffer", "PerfStats"]
