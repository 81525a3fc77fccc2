"""Ring buffers (``BPF_MAP_TYPE_RINGBUF``), read straight from their memory mapping.

    rb = bpfman.RingBuffer()
    rb.add(obj.maps["events"], on_event, event=Event)   # Event: a ctypes struct
    rb.add(obj.maps["other"])                          # no callback: iterate
    with rb:
        rb.poll(timeout=1.0)          # callbacks run
        for ev in rb.events(timeout=1.0): ...

How it reads: the consumer page (offset 0) is mapped read-write, the producer
page and the data (offset one page, the data mapped twice by the kernel so a
record crossing the end is contiguous) read-only. Records are an 8-byte header
(u32 length with the BUSY bit 31 and DISCARD bit 30, u32 page offset) then the
payload, 8-byte aligned. Runs of records of one length are found with a single
strided comparison of their headers and copied out at once, so the Python work
per event is one slice (or ``from_buffer_copy``) and the callback. The consumer
position is stored after the events are handed over. Python has no memory
barriers: this relies on x86-64's ordering of loads and stores (TSO), as a
plain-store consumer like libbpf's does there.

Batch mode (``batch=True`` or a maximum count) hands a callback a ctypes array
of up to that many fixed-size events per call, gathered by strided copies: no
Python work per event.

Lost events: the kernel keeps no count of records a ring buffer refused
(``bpf_ringbuf_reserve``/``bpf_ringbuf_output`` fail in the program when it is
full), so only the program can count them. ``stats()`` reports what is known
here: events handed over, records the programs discarded, bytes waiting.
"""

from __future__ import annotations

import ctypes
import functools
import mmap
from dataclasses import dataclass
from typing import Any, Literal

from bpfman._events import Callback, EventSource, EventType, event_type
from bpfman.errors import BpfError
from bpfman.kinds import MapType
from bpfman.map import Map

PAGE = mmap.PAGESIZE
BUSY = 1 << 31
DISCARD = 1 << 30
LEN_MASK = DISCARD - 1
_FLAGS = BUSY | DISCARD
HDR = 8
RUN_MAX = 1 << 16  # records handed over per uniform run (bounds each copy)
BATCH_DEFAULT = 1 << 16
_PROBE = 8  # headers checked before trying a whole run
_CACHED_ARRAYS = 64  # ctypes caches array types forever: only small lengths go there
_FORMATS: dict[int, Literal["Q", "I", "H", "B"]] = {8: "Q", 4: "I", 2: "H", 1: "B"}


@dataclass(frozen=True)
class RingStats:
    events: int  # events handed over
    discarded: int  # records the programs discarded (bpf_ringbuf_discard)
    pending_bytes: int  # written by the programs, not read yet
    size: int  # bytes of data the ring holds


def _first_difference(got: bytes, want: bytes) -> int:
    """Index of the first 4-byte word where *got* and *want* differ (they do)."""
    x = int.from_bytes(got, "little") ^ int.from_bytes(want[: len(got)], "little")
    return ((x & -x).bit_length() - 1) // 32


class _Ring:
    """One ring buffer map: its mappings, position and delivery."""

    def __init__(
        self, m: Map, callback: Callback | None, etype: EventType | None, batch: int, pending: Any
    ) -> None:
        if m.type != MapType.RINGBUF:
            raise BpfError(f"map {m.name} is not a ring buffer (type {m.type!r})")
        fd = m.fd
        self.map_id = m.id
        self.name = m.name
        self.size = m.max_entries
        self.mask = self.size - 1
        self.callback = callback
        self.etype = etype
        self.batch = batch
        self.run_max = batch or RUN_MAX
        self.pending = pending
        self.events = 0
        self.discarded = 0
        self._handled = 0
        self._pattern = b""
        self._pattern_hdr = -1
        try:
            self._cons_map = mmap.mmap(fd, PAGE, access=mmap.ACCESS_WRITE, offset=0)
        except OSError as e:
            raise BpfError(
                f"cannot map ring buffer {m.name}: {e.strerror}", errno=e.errno or 0
            ) from None
        try:
            self._data_map = mmap.mmap(
                fd, PAGE + 2 * self.size, access=mmap.ACCESS_READ, offset=PAGE
            )
        except OSError as e:
            self._cons_map.close()
            raise BpfError(
                f"cannot map ring buffer {m.name}: {e.strerror}", errno=e.errno or 0
            ) from None
        self.cons = memoryview(self._cons_map).cast("Q")
        whole = memoryview(self._data_map)
        self.prod = whole[:8].cast("Q")
        self.data = whole[PAGE:]
        self.w32 = self.data.cast("I")
        whole.release()
        if etype is not None and batch:
            size = etype.size
            self.unit = next(u for u in (8, 4, 2, 1) if size % u == 0)
            self.fmt: Literal["Q", "I", "H", "B"] = _FORMATS[self.unit]

    def close(self) -> None:
        for v in (self.w32, self.data, self.prod, self.cons):
            v.release()
        self._data_map.close()
        self._cons_map.close()

    def stats(self) -> RingStats:
        return RingStats(self.events, self.discarded, self.prod[0] - self.cons[0], self.size)

    # ------------------------------------------------------------------ reading

    def drain(self, limit: int | None) -> int:
        """Hand over committed records (at most about *limit*); returns how many."""
        cons_mv, prod_mv, w32, mask = self.cons, self.prod, self.w32, self.mask
        cons = cons_mv[0]
        done = 0
        while True:
            prod = prod_mv[0]
            if cons >= prod:
                return done  # the consumer position was stored before this check
            while cons < prod:
                if limit is not None and done >= limit:
                    return done
                off = cons & mask
                hdr = w32[off >> 2]
                if hdr & BUSY:
                    return done  # its commit wakes the epoll: cons points at it
                length = hdr & LEN_MASK
                stride = (length + HDR + 7) & ~7
                if hdr & DISCARD:
                    self.discarded += 1
                    cons += stride
                    cons_mv[0] = cons
                    continue
                room = (prod - cons) // stride
                if limit is not None and not self.batch:  # a batch is one array anyway
                    room = min(room, limit - done)
                if room > 1 and w32[((cons + stride) & mask) >> 2] == hdr:
                    k = self._run(off, hdr, stride, min(room, self.run_max))
                elif not self.batch:  # records of changing lengths: one by one
                    walked = self._walk(cons, prod, None if limit is None else limit - done)
                    cons += walked[0]
                    done += walked[1]
                    continue
                else:
                    k = 1
                self._handled = 0
                try:
                    self._deliver(off, length, stride, k)
                finally:
                    cons += self._handled * stride
                    cons_mv[0] = cons
                    done += self._handled

    def _run(self, off: int, hdr: int, stride: int, n: int) -> int:
        """How many records from *off* on have header length *hdr* (at most *n*)."""
        w, step = off >> 2, stride >> 2
        probe = min(n, _PROBE)
        got = self.w32[w : w + probe * step : step].tobytes()
        pattern = self._pattern_of(hdr, probe)
        if not pattern.startswith(got):
            return _first_difference(got, pattern)
        if probe == n:
            return n
        got = self.w32[w : w + n * step : step].tobytes()
        pattern = self._pattern_of(hdr, n)
        if pattern.startswith(got):
            return n
        return _first_difference(got, pattern)

    def _pattern_of(self, hdr: int, words: int) -> bytes:
        """*hdr* repeated at least *words* times (kept while the record length stays)."""
        if hdr != self._pattern_hdr or len(self._pattern) < 4 * words:
            self._pattern = hdr.to_bytes(4, "little") * words
            self._pattern_hdr = hdr
        return self._pattern

    def _walk(self, cons: int, prod: int, budget: int | None) -> tuple[int, int]:
        """Hand over records one at a time from *cons*: (bytes advanced, records).

        Stops before *prod*, a busy or discarded record, the *budget*, or a record of
        the length of the one before (a run: the caller's faster way). Consumes at
        least the first record, which the caller checked.
        """
        data, w32, mask, et = self.data, self.w32, self.mask, self.etype
        sink = self.callback or self.pending.append
        copy = et.ctype.from_buffer_copy if et is not None else None
        size = et.size if et is not None else 0
        start, n, last = cons, 0, -1
        budget = 1 << 62 if budget is None else budget
        try:
            while cons < prod and n < budget:
                off = cons & mask
                hdr = w32[off >> 2]
                if hdr & _FLAGS or hdr == last:
                    break
                last = hdr
                cons += (hdr + HDR + 7) & ~7
                n += 1
                if copy is None:
                    sink(data[off + HDR : off + HDR + hdr].tobytes())
                elif hdr < size:
                    assert et is not None
                    raise BpfError(
                        f"ring buffer {self.name}: a record of {hdr} bytes, "
                        f"{et.ctype.__name__} needs at least {size}"
                    )
                else:
                    sink(copy(data, off + HDR))
        finally:
            self.cons[0] = cons
            self.events += n
        return cons - start, n

    def _deliver(self, off: int, length: int, stride: int, k: int) -> None:
        """Hand *k* records of *length* bytes at *off* to the callback or the queue.

        Sets ``_handled`` to the records consumed, also when a callback raises
        (the event it raised on counts as handed over).
        """
        et, cb = self.etype, self.callback
        if et is not None and (length != et.size if self.batch else length < et.size):
            self._handled = 1
            want = "" if self.batch else "at least "
            raise BpfError(
                f"ring buffer {self.name}: a record of {length} bytes, "
                f"{et.ctype.__name__} needs {want}{et.size}"
            )
        if self.batch:
            assert et is not None
            arr = self._array(off, stride, k, et)
            self._handled = k
            self.events += k
            if cb is None:
                self.pending.append(arr)
            else:
                cb(arr)
            return
        end = k * stride
        buf = self.data[off : off + end].tobytes()
        pos = HDR
        try:
            if cb is None:
                if et is None:
                    self.pending.extend([buf[o : o + length] for o in range(HDR, end, stride)])
                else:
                    make = functools.partial(et.ctype.from_buffer_copy, buf)
                    self.pending.extend(map(make, range(HDR, end, stride)))
            elif et is None:
                for pos in range(HDR, end, stride):
                    cb(buf[pos : pos + length])
            else:
                make_at = et.ctype.from_buffer_copy
                for pos in range(HDR, end, stride):
                    cb(make_at(buf, pos))
            pos = end - stride + HDR
        finally:
            self._handled = (pos - HDR) // stride + 1
            self.events += self._handled

    def _array(self, off: int, stride: int, k: int, et: EventType) -> Any:
        """The payloads of *k* records as one ctypes array, gathered column by column."""
        size, u = et.size, self.unit
        out = bytearray(k * size)
        cols, step, first = size // u, stride // u, HDR // u
        with (
            self.data[off : off + k * stride] as raw,
            raw.cast(self.fmt) as src,
            memoryview(out) as dst_b,
            dst_b.cast(self.fmt) as dst,
        ):
            for j in range(cols):
                dst[j::cols] = src[first + j :: step]
        if k <= _CACHED_ARRAYS or k == self.batch:
            atype = et.ctype * k
        else:  # a type of its own, freed with the array
            atype = type(
                f"{et.ctype.__name__}_Array_{k}",
                (ctypes.Array,),
                {"_type_": et.ctype, "_length_": k},
            )
        return atype.from_buffer(out)


class RingBuffer(EventSource):
    """Events from one or more ring buffer maps, by callback, iteration or asyncio.

    ``add(map, callback, event=Type)`` per map (or the same as constructor
    arguments for one map). Without a callback a map's events are queued for
    ``for ev in rb`` / ``rb.events(timeout)`` / ``async for ev in rb``. Events are
    ``bytes``, or instances of *event* (a ctypes type checked against the
    struct of that name in the object's BTF, see ``add``), or with *batch*
    ctypes arrays of *event*.
    """

    _what = "ring buffer"

    def __init__(
        self,
        map: Map | None = None,
        callback: Callback | None = None,
        *,
        event: type[Any] | str | None = None,
        btf_name: str | None = None,
        batch: bool | int = False,
    ) -> None:
        super().__init__()
        self._rings: list[_Ring] = []
        if map is not None:
            self.add(map, callback, event=event, btf_name=btf_name, batch=batch)

    def add(
        self,
        map: Map,
        callback: Callback | None = None,
        *,
        event: type[Any] | str | None = None,
        btf_name: str | None = None,
        batch: bool | int = False,
    ) -> RingBuffer:
        """Read *map* too; returns the buffer.

        *event*: a ctypes type events are decoded to. It is checked against the
        struct (union, typedef) named *btf_name*, else named like the class or its
        snake_case form (``ExecEvent`` -> ``exec_event``), in the map's BTF; a
        mismatch raises ``BpfError``. Structs used only inside the programs are not
        in the BTF (a global of that type puts them there); then only sizes are
        checked, per record. A record shorter than *event* raises ``BpfError``
        from the call that reads it (the record is skipped). *event* may also be
        the name of a type in the map's BTF (``event="exec_event"``): events are
        then decoded to the ctypes class made from it (``Btf.ctype``).

        *batch*: ``True`` (up to 65536 events) or a maximum: the callback (or the
        iterator) gets ctypes arrays of *event*; every record must have exactly
        its size.
        """
        self._ep()
        if any(r.map_id == map.id for r in self._rings):
            raise BpfError(f"map {map.name} is already in this ring buffer")
        etype = event_type(map, event, btf_name)
        count = BATCH_DEFAULT if batch is True else int(batch)
        if count < 0:
            raise BpfError(f"batch must be True or a positive count, got {batch!r}")
        if count and etype is None:
            raise BpfError(f"map {map.name}: batch mode needs an event type (event=)")
        ring = _Ring(map, callback, etype, count, self._pending)
        try:
            self._register(map.fd)
        except BaseException:
            ring.close()
            raise
        self._rings.append(ring)
        return self

    def _empty(self) -> bool:
        return not self._rings

    def _consume(self, limit: int | None) -> int:
        self._ep()
        total = 0
        for ring in self._rings:
            total += ring.drain(None if limit is None else limit - total)
            if limit is not None and total >= limit:
                self._rings.append(self._rings.pop(0))  # the others go first next time
                break
        return total

    def stats(self) -> dict[str, RingStats]:
        """Per map name: events handed over, records discarded, bytes waiting, size."""
        self._ep()
        return {r.name: r.stats() for r in self._rings}

    def _free(self) -> None:
        rings, self._rings = self._rings, []
        for ring in rings:
            ring.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else ", ".join(r.name for r in self._rings)
        return f"<RingBuffer {state}>"


__all__ = ["RingBuffer", "RingStats"]
