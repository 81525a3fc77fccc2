"""Prometheus metrics: bpfman's programs as the kernel counts them, and the daemon's requests.

Served as Prometheus text over HTTP (``prometheus_client``) by ``bpfman
serve --metrics HOST:PORT`` and by the standalone ``bpfman metrics
HOST:PORT``. Each scrape reads the state afresh (``snapshot``: the store,
then the kernel's facts per program and map) and turns it into metric
families (``families``: pure). The kernel counts a program's runs and run
time only while someone holds a BPF_ENABLE_STATS fd, so the ``Exporter``
holds one for as long as it serves.

    bpfman_program_run_count_total{id,name,type}      kernel run_cnt
    bpfman_program_run_time_seconds_total{id,name,type}  kernel run_time_ns / 1e9
    bpfman_programs{type}  bpfman_links{type}  bpfman_maps{type}   counts by type
    bpfman_state_readable  1, or 0 when the store could not be read (logged, one line)
    bpfman_rpc_requests_total{rpc,code}  bpfman_rpc_duration_seconds{rpc}  (the daemon's)
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import grpc
from prometheus_client import CollectorRegistry, Histogram, start_http_server
from prometheus_client import Counter as PromCounter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bpfman.errors import BpfError
from bpfman.kinds import MapType
from bpfman.manager.errors import InputError

if TYPE_CHECKING:
    from bpfman.manager.core import Manager

log = logging.getLogger("bpfman.server")
PROGRAM_LABELS = ["id", "name", "type"]


@dataclass(frozen=True)
class ProgramStats:
    id: int
    name: str
    type: str  # bpfman's type word (xdp, tracepoint, kretprobe, ...)
    run_cnt: int
    run_time_ns: int


@dataclass
class Snapshot:
    """What one scrape saw: bpfman's programs still in the kernel, its links and their maps."""

    programs: list[ProgramStats] = field(default_factory=list)
    link_types: list[str] = field(default_factory=list)
    map_types: dict[int, str] = field(default_factory=dict)  # map id -> type name
    readable: bool = True  # False: the store could not be read (the rest is empty)


def snapshot(mgr: Manager) -> Snapshot:
    """Read the store, then each program's kernel info (a program gone or reused is left out)."""
    from bpfman.map import Map
    from bpfman.program import Program

    snap = Snapshot(link_types=[link.kind.name.lower() for link in mgr.store.links()])
    map_ids: set[int] = set()
    for rec in mgr.store.programs():
        try:
            with Program.from_id(rec.id) as prog:
                info = prog.info()
        except BpfError:
            continue  # gone: doctor reports it
        if info.tag != rec.tag:
            continue  # the id now belongs to someone else
        snap.programs.append(
            ProgramStats(rec.id, rec.name, rec.type_word, info.run_cnt, info.run_time_ns)
        )
        map_ids.update(info.map_ids)
    for map_id in sorted(map_ids):
        try:
            with Map.from_id(map_id) as m:
                snap.map_types[map_id] = _map_type_name(int(m.type))
        except BpfError:
            continue
    return snap


def _map_type_name(value: int) -> str:
    try:
        return MapType(value).name.lower()
    except ValueError:
        return str(value)


def families(snap: Snapshot) -> list[Metric]:
    """The state's metric families (pure)."""
    runs = CounterMetricFamily(
        "bpfman_program_run_count", "times the kernel ran the program", labels=PROGRAM_LABELS
    )
    time_ = CounterMetricFamily(
        "bpfman_program_run_time_seconds",
        "time the kernel spent running the program",
        labels=PROGRAM_LABELS,
    )
    for p in snap.programs:
        labels = [str(p.id), p.name, p.type]
        runs.add_metric(labels, p.run_cnt)
        time_.add_metric(labels, p.run_time_ns / 1e9)
    up = GaugeMetricFamily("bpfman_state_readable", "1 if this scrape could read bpfman's state")
    up.add_metric([], 1 if snap.readable else 0)
    out: list[Metric] = [up, runs, time_]
    counts = (
        ("bpfman_programs", "bpfman's programs by type", [p.type for p in snap.programs]),
        ("bpfman_links", "bpfman's links by type", snap.link_types),
        ("bpfman_maps", "maps of bpfman's programs by type", list(snap.map_types.values())),
    )
    for name, doc, types in counts:
        gauge = GaugeMetricFamily(name, doc, labels=["type"])
        for typ, n in sorted(Counter(types).items()):
            gauge.add_metric([typ], n)
        out.append(gauge)
    return out


class StateCollector(Collector):
    """Collects ``families(snapshot(...))`` on each scrape, with a Manager of its own."""

    def __init__(self, runtime_dir: str | None, config_path: str | None) -> None:
        self.runtime_dir = runtime_dir
        self.config_path = config_path

    def collect(self) -> Iterable[Metric]:
        from bpfman.manager.core import Manager

        try:
            with Manager(self.runtime_dir, config_path=self.config_path) as mgr:
                snap = snapshot(mgr)
        except Exception as e:  # a scrape answers, whatever the state: say it could not read
            first = str(e).strip().splitlines()[:1] or [type(e).__name__]
            log.warning("metrics: cannot read bpfman's state: %s", first[0])
            snap = Snapshot(readable=False)
        return families(snap)


class RequestMetrics:
    """The daemon's requests: a count by RPC and status code, a latency histogram by RPC."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = PromCounter(
            "bpfman_rpc_requests", "gRPC requests served", ["rpc", "code"], registry=registry
        )
        self.duration = Histogram(
            "bpfman_rpc_duration_seconds", "gRPC request latency", ["rpc"], registry=registry
        )

    def observe(self, rpc: str, code: grpc.StatusCode, seconds: float) -> None:
        self.requests.labels(rpc, code.name).inc()
        self.duration.labels(rpc).observe(seconds)


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` for IPv6) -> (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError(f"metrics address {text!r}: expected HOST:PORT (port 1-65535)")
    return host.removeprefix("[").removesuffix("]"), int(port)


@contextlib.contextmanager
def exporter(
    address: str, runtime_dir: str | None, config_path: str | None
) -> Iterator[RequestMetrics]:
    """Serve the metrics on *address* while inside; BPF run-time stats are on meanwhile.

    Yields the request metrics for the daemon to feed (the standalone
    exporter has no requests: those stay empty).
    """
    from bpfman.program import enable_stats

    host, port = parse_address(address)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StateCollector(runtime_dir, config_path))
    requests = RequestMetrics(registry)
    with enable_stats():
        try:
            server, thread = start_http_server(port, host, registry)
        except OSError as e:
            what = f"cannot serve metrics on {address}: {e.strerror}"
            raise BpfError(what, errno=e.errno or 0) from None
        log.info("serving metrics on http://%s/metrics", address)
        try:
            yield requests
        finally:
            server.shutdown()
            server.server_close()
            thread.join()
