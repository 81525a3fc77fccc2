"""Ring and perf buffers against the real kernel (programs in tests/bpf/buffers.bpf.c).

Events come from a tracepoint on kill() filtered to this process, or in bulk
from XDP programs run by BPF_PROG_TEST_RUN (repeat=N runs them N times on one CPU).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
from collections.abc import Iterator

import pytest

import bpfman
from bpfman import BpfError
from bpfman._events import snake_case
from bpfman.object import Object
from bpfman.ringbuf import _first_difference

PKT = bytes(64)  # an XDP test run needs at least an Ethernet header


class Event(ctypes.Structure):  # struct event
    _fields_ = [
        ("pid", ctypes.c_uint32),
        ("seq", ctypes.c_uint32),
        ("sig", ctypes.c_uint64),
        ("tag", ctypes.c_char * 8),
    ]


class OtherEvent(ctypes.Structure):  # struct other_event, found by its snake_case name
    _fields_ = [("seq", ctypes.c_uint64), ("kind", ctypes.c_uint32), ("len", ctypes.c_uint32)]


@pytest.fixture
def obj(bpf_obj) -> Iterator[Object]:
    spec = bpfman.open(bpf_obj("buffers"))
    spec.globals["target_pid"] = os.getpid()
    with spec.load() as o:
        yield o


def kill_self(n: int) -> None:
    for _ in range(n):
        os.kill(os.getpid(), 0)


def mapped_ringbufs() -> int:
    with open("/proc/self/maps") as f:
        return sum("bpf-map" in line for line in f)


def perf_fds() -> int:
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            n += "perf_event" in os.readlink(f"/proc/self/fd/{fd}")
    return n


# ---------------------------------------------------------------------- pure helpers


def test_snake_case() -> None:
    assert snake_case("ExecEvent") == "exec_event"
    assert snake_case("event") == "event"
    assert snake_case("TCPConn2Event") == "tcpconn2_event"


def test_first_difference() -> None:
    want = (24).to_bytes(4, "little") * 8
    got = bytearray(want)
    got[5 * 4 + 3] |= 0x80  # BUSY bit of the sixth header
    assert _first_difference(bytes(got), want) == 5


# ---------------------------------------------------------------------- ring buffer


def test_ring_two_maps_callbacks_exact_contents(obj) -> None:
    events: list[Event] = []
    others: list[bytes] = []
    link = obj.programs["rb_kill"].attach_tracepoint("syscalls", "sys_enter_kill")
    with link, bpfman.RingBuffer() as rb:
        rb.add(obj.maps["events"], events.append, event=Event)
        rb.add(obj.maps["others"], others.append)
        kill_self(12)
        assert rb.poll(timeout=2.0) == 12 + 6
        assert rb.consume() == 0
        stats = rb.stats()
    assert [(e.pid, e.seq, e.sig, e.tag) for e in events] == [
        (os.getpid(), i, 0, b"kill") for i in range(12)
    ]
    # every other kill also wrote 16, 20, 24 bytes (in turn) into `others`
    assert [len(b) for b in others] == [16, 20, 24, 16, 20, 24]
    for i, raw in enumerate(others):
        o = OtherEvent.from_buffer_copy(raw[:16])
        assert (o.seq, o.kind, o.len) == (2 * i, 7, len(raw))
        assert raw[16:] == bytes(len(raw) - 16)
    assert stats["events"].events == 12 and stats["others"].events == 6
    assert stats["events"].pending_bytes == 0
    assert obj.globals["dropped"] == 0


def test_ring_iterator_and_typed_variable_records(obj) -> None:
    with obj.programs["rb_kill"].attach_tracepoint("syscalls", "sys_enter_kill"):
        rb = bpfman.RingBuffer(obj.maps["events"], event=Event)
        rb.add(obj.maps["others"], event=OtherEvent)  # records of 16..24 bytes: the prefix
        with rb:
            kill_self(8)
            got = []
            for ev in rb:
                got.append(ev)
                if len(got) == 12:
                    break
            assert list(rb.events(timeout=0.05)) == []
    mains = [e for e in got if isinstance(e, Event)]
    others = [e for e in got if isinstance(e, OtherEvent)]
    assert [e.seq for e in mains] == list(range(8))
    assert [(o.seq, o.len) for o in others] == [(0, 16), (2, 20), (4, 24), (6, 16)]


def test_ring_wraps_around_with_records_across_the_end(obj) -> None:
    others: list[bytes] = []
    link = obj.programs["rb_kill"].attach_tracepoint("syscalls", "sys_enter_kill")
    with link, bpfman.RingBuffer(obj.maps["others"], others.append) as rb:
        for _ in range(4):  # 4 x 750 records of 24..32 bytes: about 1.3 times the 64 KiB
            kill_self(1500)
            assert rb.consume() == 750
        stats = rb.stats()["others"]
    assert [OtherEvent.from_buffer_copy(b[:16]).seq for b in others] == list(range(0, 6000, 2))
    assert [len(b) for b in others] == [16, 20, 24] * 1000
    assert stats.events == 3000 and stats.pending_bytes == 0
    strides = [(len(b) + 8 + 7) // 8 * 8 for b in others]
    starts = [sum(strides[:i]) % stats.size for i in range(len(strides))]
    assert any(s + n > stats.size for s, n in zip(starts, strides, strict=True))  # straddled
    assert obj.globals["dropped"] == 0


def test_ring_short_record_for_typed_event_is_an_error_and_skipped(obj) -> None:
    got: list[Event] = []
    link = obj.programs["rb_kill"].attach_tracepoint("syscalls", "sys_enter_kill")
    with link, bpfman.RingBuffer(obj.maps["others"], got.append, event=Event) as rb:
        kill_self(6)  # `others` gets records of 16, 20, 24 bytes; Event needs 24
        for size in (16, 20):
            with pytest.raises(
                BpfError, match=f"a record of {size} bytes, Event needs at least 24"
            ):
                rb.consume()
        assert rb.consume() == 1
    # the 24-byte other_event {seq 4, kind 7, len 24} read as an Event
    assert [(e.pid, e.seq, e.sig) for e in got] == [(4, 0, 7 | 24 << 32)]


def test_ring_typed_event_checked_against_btf(obj) -> None:
    class event(ctypes.Structure):  # named like the C struct on purpose
        _fields_ = [("seq", ctypes.c_uint32), ("pid", ctypes.c_uint32), ("sig", ctypes.c_uint64),
                    ("tag", ctypes.c_char * 8)]  # fmt: skip

    class Short(ctypes.Structure):
        _fields_ = [("pid", ctypes.c_uint32)]

    rb = bpfman.RingBuffer()
    with rb:
        with pytest.raises(BpfError, match=r"event does not match BTF struct event: .*fields"):
            rb.add(obj.maps["events"], event=event)
        with pytest.raises(BpfError, match=r"Short does not match BTF struct event: .*4 bytes"):
            rb.add(obj.maps["events"], event=Short, btf_name="event")
        with pytest.raises(BpfError, match="no struct, union or typedef 'nope'"):
            rb.add(obj.maps["events"], event=Event, btf_name="nope")
        with pytest.raises(BpfError, match="not a ring buffer"):
            rb.add(obj.maps["perf_events"])
        with pytest.raises(BpfError, match="batch mode needs an event type"):
            rb.add(obj.maps["events"], batch=True)
        rb.add(obj.maps["events"], event=Event)
        with pytest.raises(BpfError, match="already in this ring buffer"):
            rb.add(obj.maps["events"])


def test_ring_and_perf_events_typed_by_btf_name(obj) -> None:
    """event="event": the ctypes class is made from the map's BTF, no class written by hand."""
    rings: list[object] = []
    perfs: list[object] = []
    with bpfman.RingBuffer(obj.maps["bulk"], rings.append, event="event") as rb:
        with bpfman.PerfBuffer(obj.maps["perf_events"], perfs.append, event="struct event") as pb:
            obj.programs["rb_bulk"].test_run(PKT, repeat=3)
            obj.programs["pb_bulk"].test_run(PKT, repeat=2)
            assert rb.consume() == 3
            n = 0
            while n < 2:
                n += pb.poll(timeout=2.0) or pytest.fail("no perf samples")
        with pytest.raises(BpfError, match="btf_name given with a BTF type name"):
            rb.add(obj.maps["events"], event="event", btf_name="event")
        with pytest.raises(BpfError, match="no type named 'nope'"):
            rb.add(obj.maps["events"], event="nope")
    got = rings + perfs
    assert {type(e).__name__ for e in got} == {"event"}
    assert [(e.pid, e.tag) for e in got] == [(os.getpid(), b"kill")] * 5  # type: ignore[attr-defined]
    assert [e.seq for e in got] == [0, 1, 2, 3, 4]  # type: ignore[attr-defined]
    assert type(rings[0]) is type(perfs[0]) is obj.btf.ctype("event")


def test_ring_asyncio(obj) -> None:
    async def main(rb: bpfman.RingBuffer) -> list[Event]:
        loop = asyncio.get_running_loop()
        for i in range(5):  # emitted while `async for` waits on the epoll fd
            loop.call_later(0.02 * (i + 1), os.kill, os.getpid(), 0)
        got: list[Event] = []
        async for ev in rb:
            got.append(ev)
            if len(got) == 5:
                break
        return got

    async def with_callback(rb: bpfman.RingBuffer) -> int:
        asyncio.get_running_loop().call_later(0.05, os.kill, os.getpid(), 0)
        return await rb.apoll(timeout=2.0)

    with obj.programs["rb_kill"].attach_tracepoint("syscalls", "sys_enter_kill"):
        with bpfman.RingBuffer(obj.maps["events"], event=Event) as rb:
            got = asyncio.run(asyncio.wait_for(main(rb), 5.0))
        seen: list[Event] = []
        with bpfman.RingBuffer(obj.maps["events"], seen.append, event=Event) as rb:
            assert asyncio.run(with_callback(rb)) == 1
            assert asyncio.run(rb.apoll(timeout=0.05)) == 0
    assert [e.seq for e in got] == list(range(5))
    assert [e.seq for e in seen] == [5]


def test_ring_batch_mode_with_discards(obj) -> None:
    n, every = 20000, 7
    obj.globals["discard_every"] = every
    prog = obj.programs["rb_bulk"]
    batches: list[ctypes.Array[Event]] = []
    with bpfman.RingBuffer(obj.maps["bulk"], batches.append, event=Event, batch=True) as rb:
        prog.test_run(PKT, repeat=n // 2)
        first = rb.consume()
        prog.test_run(PKT, repeat=n - n // 2)
        second = rb.poll(timeout=1.0)
        discarded = rb.stats()["bulk"].discarded
    seqs = [e.seq for arr in batches for e in arr]
    want = [i for i in range(n) if i % every]
    assert seqs == want
    assert first + second == len(want) == obj.globals["sent"]
    assert discarded == obj.globals["discarded"] == n - len(want)
    # one array per run of records between discarded ones
    assert len(batches) <= discarded + 2
    assert all(isinstance(arr, ctypes.Array) and arr._type_ is Event for arr in batches)
    assert all(e.pid == os.getpid() and e.tag == b"kill" for e in batches[-1])


def test_ring_batch_size_limit_and_iteration(obj) -> None:
    obj.programs["rb_bulk"].test_run(PKT, repeat=1000)
    with bpfman.RingBuffer(obj.maps["bulk"], event=Event, batch=300) as rb:
        arrays = list(rb.events(timeout=0.05))
    assert [len(a) for a in arrays] == [300, 300, 300, 100]
    assert [e.seq for a in arrays for e in a] == list(range(1000))


def test_ring_per_event_after_discards(obj) -> None:
    obj.globals["discard_every"] = 3
    obj.programs["rb_bulk"].test_run(PKT, repeat=3000)
    got: list[bytes] = []
    with bpfman.RingBuffer(obj.maps["bulk"], got.append) as rb:
        assert rb.consume() == 2000
    assert [int.from_bytes(b[4:8], "little") for b in got] == [i for i in range(3000) if i % 3]
    assert all(len(b) == ctypes.sizeof(Event) for b in got)


def test_ring_callback_error_keeps_position(obj) -> None:
    obj.programs["rb_bulk"].test_run(PKT, repeat=100)
    seen: list[int] = []

    def cb(ev: Event) -> None:
        seen.append(ev.seq)
        if ev.seq == 41:
            raise ValueError("stop here")

    with bpfman.RingBuffer(obj.maps["bulk"], cb, event=Event) as rb:
        with pytest.raises(ValueError, match="stop here"):
            rb.consume()
        assert seen == list(range(42))
        assert rb.stats()["bulk"].pending_bytes == 58 * 32
        assert rb.consume() == 58
    assert seen == list(range(100))


def test_ring_full_reserve_failures_counted_by_program(obj) -> None:
    prog = obj.programs["rb_tiny"]
    got: list[Event] = []
    with bpfman.RingBuffer(obj.maps["tiny"], got.append, event=Event) as rb:
        prog.test_run(PKT, repeat=1000)  # a one-page ring holds about 127 of them
        received = rb.consume()
        dropped = obj.globals["dropped"]
        assert dropped > 0 and received > 0
        assert received + dropped == 1000 == obj.globals["sent"] + dropped
        prog.test_run(PKT, repeat=10)  # drained: room again
        assert rb.consume() == 10
    assert obj.globals["dropped"] == dropped
    assert got[-1].seq == 1009


def test_ring_close_frees_mappings(obj) -> None:
    before = mapped_ringbufs()
    rb = bpfman.RingBuffer(obj.maps["events"])
    rb.add(obj.maps["bulk"], event=Event, batch=True)
    assert mapped_ringbufs() == before + 4  # consumer page + producer/data, per map
    obj.programs["rb_bulk"].test_run(PKT, repeat=10)
    assert len(next(iter(rb))) == 10
    rb.close()
    rb.close()
    assert rb.closed and mapped_ringbufs() == before
    with pytest.raises(BpfError, match="ring buffer is closed"):
        rb.poll(0)


# ---------------------------------------------------------------------- perf buffer


def test_perf_contents_callback_and_iterator(obj) -> None:
    got: list[Event] = []
    with obj.programs["pb_kill"].attach_tracepoint("syscalls", "sys_enter_kill"):
        with bpfman.PerfBuffer(obj.maps["perf_events"], got.append, event=Event) as pb:
            kill_self(6)
            n = 0
            while n < 6:
                n += pb.poll(timeout=2.0) or pytest.fail("no perf samples")
            assert pb.lost == 0
        with bpfman.PerfBuffer(obj.maps["perf_events"]) as pb:  # raw bytes, iterated
            kill_self(2)
            raws = list(pb.events(timeout=0.2))
    assert [(e.pid, e.seq, e.sig, e.tag) for e in got] == [
        (os.getpid(), i, 0, b"kill") for i in range(6)
    ]
    # 24 bytes of payload arrive padded to 28 (perf raw samples keep 8-byte alignment)
    assert [len(r) for r in raws] == [28, 28]
    assert [Event.from_buffer_copy(r[:24]).seq for r in raws] == [6, 7]
    assert obj.globals["dropped"] == 0


def test_perf_lost_samples(obj) -> None:
    cpu = min(os.sched_getaffinity(0))
    affinity = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})  # every sample into one CPU's ring
    lost_calls: list[tuple[int, int]] = []
    try:
        prog = obj.programs["pb_bulk"]
        with bpfman.PerfBuffer(
            obj.maps["perf_events"],
            event=Event,
            pages=1,
            lost=lambda c, n: lost_calls.append((c, n)),
        ) as pb:
            prog.test_run(PKT, repeat=2000)  # one page holds about 100
            received = pb.consume()
            prog.test_run(PKT, repeat=1)  # the kernel reports losses before the next sample
            received += pb.consume()
            events = list(pb.events(timeout=0))
            stats = pb.stats()["perf_events"]
    finally:
        os.sched_setaffinity(0, affinity)
    assert pb.lost > 0
    assert received + pb.lost == 2001 == len(events) + stats.lost
    assert pb.lost == obj.globals["dropped"]
    assert lost_calls == [(cpu, pb.lost)]
    assert events[-1].seq == 2000


def test_perf_asyncio_and_close(obj) -> None:
    before = perf_fds()

    async def main(pb: bpfman.PerfBuffer) -> list[Event]:
        asyncio.get_running_loop().call_later(0.05, os.kill, os.getpid(), 0)
        return [ev async for ev in pb.aevents(timeout=0.3)]

    with obj.programs["pb_kill"].attach_tracepoint("syscalls", "sys_enter_kill"):
        pb = bpfman.PerfBuffer(obj.maps["perf_events"], event=Event, pages=2)
        assert perf_fds() > before
        got = asyncio.run(asyncio.wait_for(main(pb), 5.0))
        pb.close()
    assert [e.seq for e in got] == [0]
    assert perf_fds() == before
    with pytest.raises(BpfError, match="perf buffer is closed"):
        pb.consume()
    with pytest.raises(BpfError, match="power of two"):
        bpfman.PerfBuffer(obj.maps["perf_events"], pages=3)
    with pytest.raises(BpfError, match="not a perf event array"):
        bpfman.PerfBuffer(obj.maps["events"])
