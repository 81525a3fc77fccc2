"""A loaded program: an fd, its kernel info, test runs, pins, and every attach kind.

Attach methods are thin: each kind lives in its own module under
``bpfman.attach`` and works from the program's fd alone, so a program reopened
from a pin or an id attaches exactly like one fresh from its object.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno as _errno
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from bpfman import _libbpf, _sys
from bpfman._handle import FdHandle
from bpfman._libbpf import lib
from bpfman.errors import BpfError, from_errno
from bpfman.kinds import AttachType, ProgramType, name_of

if TYPE_CHECKING:
    from bpfman.attach.tc import TcLink
    from bpfman.attach.tcx import TcxLink
    from bpfman.attach.xdp import XdpLink
    from bpfman.link import Link
    from bpfman.object import Object


L = TypeVar("L", bound="Link")  # attach_* return the kind of link they make

@dataclass(frozen=True)
class ProgramInfo:
    """The kernel's facts about a loaded program (``Program.info()``)."""

    id: int
    name: str
    type: ProgramType | int
    tag: str
    loaded_at: float  # seconds since the epoch
    gpl_compatible: bool
    jited: bool
    jited_size: int
    xlated_size: int
    verified_insns: int
    map_ids: tuple[int, ...]
    btf_id: int
    run_cnt: int
    run_time_ns: int
    created_by_uid: int


ETH_HLEN = 14  # an Ethernet header: the shortest packet the kernel test-runs
_FRAME_TYPES = (ProgramType.XDP, ProgramType.SCHED_CLS, ProgramType.SCHED_ACT)


@dataclass(frozen=True)
class TestRunResult:
    """The outcome of ``Program.test_run``.

    ``retval`` is the program's return value (an ``XdpAction``/``TcAction`` for
    network programs), ``duration_ns`` the average run time of one repetition,
    ``data`` the packet after the program's changes (b"" without input data).
    """

    retval: int
    duration_ns: int  # average per repetition
    data: bytes  # data_out


@contextlib.contextmanager
def enable_stats() -> Iterator[None]:
    """Make the kernel count ``run_cnt``/``run_time_ns`` of every program inside the block."""
    fd = _sys.enable_stats()
    try:
        yield
    finally:
        os.close(fd)


def _boot_time() -> float:
    """Seconds since the epoch at which the boottime clock was 0."""
    import time

    return time.time() - time.clock_gettime(time.CLOCK_BOOTTIME)


def program_info_of(fd: int) -> ProgramInfo:
    """The kernel's facts about the program behind *fd*."""
    info, map_ids = _sys.prog_info(fd)
    try:
        ptype: ProgramType | int = ProgramType(info.type)
    except ValueError:
        ptype = info.type
    return ProgramInfo(
        id=info.id,
        name=info.name.decode(errors="replace"),
        type=ptype,
        tag=bytes(info.tag).hex(),
        loaded_at=_boot_time() + info.load_time / 1e9,
        gpl_compatible=bool(info.gpl_compatible & 1),
        jited=info.jited_prog_len > 0,
        jited_size=info.jited_prog_len,
        xlated_size=info.xlated_prog_len,
        verified_insns=info.verified_insns,
        map_ids=tuple(map_ids),
        btf_id=info.btf_id,
        run_cnt=info.run_cnt,
        run_time_ns=info.run_time_ns,
        created_by_uid=info.created_by_uid,
    )


class Program(FdHandle):
    """A program in the kernel, held by an fd.

    From ``obj.programs[name]`` it belongs to its Object, which also owns
    every Link its ``attach*()`` methods make (they stay attached until
    ``link.detach()`` or ``obj.close()``). Reopened with ``from_pin``,
    ``from_id`` or ``from_fd`` it stands alone: a Link made from it is
    detached when the caller's last reference to it goes (or ``close()``),
    unless the Link is pinned.

    Attributes: ``id`` (the kernel's), ``name``, ``type`` (a ``ProgramType``),
    ``section`` (its ELF section, "" when reopened), ``expected_attach_type``,
    ``verifier_log`` (the verifier's log of a successful load when
    ``ProgramSpec.log_level`` was 1 or 2, else ""), ``pin_path`` (where it
    was pinned or opened from, or None).
    """

    def __init__(
        self,
        fd: int,
        *,
        name: str | None = None,
        section: str = "",
        expected_attach_type: int | None = None,
        owner: Object | None = None,
        owns_fd: bool = True,
        verifier_log: str = "",
    ) -> None:
        self.verifier_log = verifier_log  # with ProgramSpec.log_level 1 or 2 before load
        self._owner = owner
        self.section = section
        self.expected_attach_type = expected_attach_type
        info, _ = _sys.prog_info(fd, with_map_ids=False)
        self.id: int = info.id
        self.name: str = name or info.name.decode(errors="replace")
        try:
            self.type: ProgramType | int = ProgramType(info.type)
        except ValueError:
            self.type = info.type
        owner_fin = owner._finalizer if owner is not None else None
        self._init_handle(fd, owns_fd=owns_fd, owner_finalizer=owner_fin)

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_pin(cls, path: str) -> Program:
        """Open the program pinned at *path* (its Links are owned by the caller's reference)."""
        prog = cls(_sys.obj_get(path))
        prog.pin_path = path
        return prog

    @classmethod
    def from_id(cls, prog_id: int) -> Program:
        """Open the loaded program with kernel id *prog_id*."""
        return cls(_sys.fd_from_id("prog", prog_id))

    @classmethod
    def from_fd(cls, fd: int) -> Program:
        """Adopt *fd* (it is closed with the Program)."""
        return cls(fd)

    # ------------------------------------------------------------------ basics

    def _label(self) -> str:
        return f"program {self.name}"

    def _adopt(self, link: L) -> L:
        if self._owner is not None:
            self._owner._track(link)
        return link

    def info(self) -> ProgramInfo:
        """The kernel's facts about the program now: id, tag, sizes, map ids, run stats ..."""
        return program_info_of(self.fd)

    def test_run(
        self,
        data: bytes = b"",
        repeat: int = 1,
        ctx: bytes | None = None,
        data_out_size: int | None = None,
    ) -> TestRunResult:
        """Run the program in the kernel on *data* (BPF_PROG_TEST_RUN).

        *data* is the packet for XDP and tc programs (an Ethernet frame: at
        least 14 bytes), *ctx* the context (e.g. ``struct __sk_buff`` or the
        raw_tp arguments); *repeat* runs it that many times (``duration_ns``
        is the average). *data_out_size* bounds the packet read back
        (``result.data``, after the program's changes). ``result.retval`` is
        the verdict: compare it with ``XdpAction`` / ``TcAction``.
        """
        if self.type in _FRAME_TYPES and len(data) < ETH_HLEN:
            kind = name_of(ProgramType, int(self.type))
            raise BpfError(
                f"test run of {self.name}: a {kind} program runs on an Ethernet frame:"
                f" data must be at least {ETH_HLEN} bytes, got {len(data)}",
                errno=_errno.EINVAL,
            )
        din = ctypes.create_string_buffer(bytes(data), max(len(data), 1))
        out_size = data_out_size if data_out_size is not None else max(len(data) + 256, 256)
        dout = ctypes.create_string_buffer(out_size)
        o = _libbpf.opts(
            _libbpf.bpf_test_run_opts,
            data_in=ctypes.cast(din, ctypes.c_void_p) if data else None,
            data_size_in=len(data),
            data_out=ctypes.cast(dout, ctypes.c_void_p) if data else None,
            data_size_out=out_size if data else 0,
            repeat=repeat,
        )
        if ctx is not None:
            cin = ctypes.create_string_buffer(bytes(ctx), max(len(ctx), 1))
            o.ctx_in = ctypes.cast(cin, ctypes.c_void_p)
            o.ctx_size_in = len(ctx)
        with _libbpf.capture() as log:
            err = lib.bpf_prog_test_run_opts(self.fd, ctypes.byref(o))
        if err:
            raise from_errno(f"test run of {self.name}", err or _libbpf.errno(), log)
        return TestRunResult(o.retval, o.duration, dout.raw[: o.data_size_out] if data else b"")

    def __repr__(self) -> str:
        t = self.type.name.lower() if isinstance(self.type, ProgramType) else self.type
        return f"<Program {self.name} id={self.id} type={t}>"

    # ------------------------------------------------------------------ attach

    def attach(self, **kw: Any) -> Link:
        """Attach as the program's ELF section says; *kw* gives what the section leaves open.

        The section picks the ``attach_*`` method and its fixed arguments;
        keywords are that method's parameters:

        - ``tracepoint/GROUP/NAME``, ``tp/...``: none (bare: ``group=``, ``name=``)
        - ``raw_tp/NAME``: none (bare: ``name=``)
        - ``kprobe/FN[+OFF]``, ``kretprobe/...``, ``ksyscall/NAME``: none (bare: ``fn=``)
        - ``uprobe/BINARY:FN[+OFF]``, ``uretprobe/...``: none; ``pid=`` optional
          (bare ``uprobe``: ``target=`` and ``fn=`` or ``offset=``)
        - ``fentry/FN``, ``fexit/FN``, ``tp_btf/NAME``, ``lsm/HOOK``: none
        - ``freplace/FN``: ``target_prog=``
        - ``xdp``: ``iface=``; ``mode=``, ``fallback=`` optional
        - ``tc``, ``tc/ingress``, ``tcx/egress``, ...: ``iface=``; ``direction=``,
          ``priority=``, ``handle=`` (tc), ``before=``/``after=`` (tcx) optional
        - ``cgroup_skb/egress``, ``cgroup/connect4``, ``sockops``, ...: ``path=``
        - ``perf_event``: ``perf_fd=``
        - ``uprobe.multi/BINARY:PATTERN``, ``uretprobe.multi/...``: none; ``pid=``
          optional (bare: ``target=`` and ``functions=`` or ``offsets=``)
        - ``kprobe.multi/PATTERN``, ``kretprobe.multi/...``: none (bare: ``pattern=``)
        - ``usdt/BINARY:PROVIDER:NAME``: none; ``pid=`` optional (bare: ``target=``,
          ``provider=``, ``name=``)

        ``cookie=`` (what ``bpf_get_attach_cookie`` returns) is optional for
        tracepoints, raw tracepoints, kprobes, uprobes, USDT and perf events;
        the multi kinds take ``cookies=``, one per function.
        A missing or unknown keyword is a ``BpfError`` naming the method called.
        """
        from bpfman.attach import by_section

        return self._adopt(by_section.attach(self, **kw))

    def attach_tracepoint(self, group: str, name: str, cookie: int = 0) -> Link:
        """Attach to the tracepoint *group*/*name* (``"syscalls", "sys_enter_execve"``).

        For a tracepoint program (``SEC("tracepoint/...")``/``SEC("tp/...")``);
        the tracepoints are listed under /sys/kernel/tracing/events. *cookie*:
        what the program reads with ``bpf_get_attach_cookie`` (as for kprobes,
        uprobes and perf events).
        """
        from bpfman.attach import tracepoint

        return self._adopt(tracepoint.attach_tracepoint(self, group, name, cookie=cookie))

    def attach_raw_tracepoint(self, name: str, cookie: int = 0) -> Link:
        """Attach a raw_tracepoint program to the raw tracepoint *name* (``"sys_enter"``).

        A *cookie* needs Linux 6.10.
        """
        from bpfman.attach import tracepoint

        return self._adopt(tracepoint.attach_raw_tracepoint(self, name, cookie=cookie))

    def attach_kprobe(
        self, fn: str, offset: int = 0, retprobe: bool = False, cookie: int = 0
    ) -> Link:
        """Attach a kprobe program to the kernel function *fn* (+ *offset*).

        With *retprobe* it runs when *fn* returns (a kretprobe). Needs a kernel
        with kprobes (``bpfman.features.probe("kprobe")``).
        """
        from bpfman.attach import kprobe

        return self._adopt(
            kprobe.attach_kprobe(self, fn, offset=offset, retprobe=retprobe, cookie=cookie)
        )

    def attach_uprobe(
        self,
        target: str,
        fn: str | None = None,
        offset: int = 0,
        pid: int = -1,
        retprobe: bool = False,
        cookie: int = 0,
    ) -> Link:
        """Attach to a function of a user-space binary or library (a uprobe).

        *target* is a path or a library name (``"libc"``, ``"c"``,
        ``"libc.so.6"``); *fn* a function in it (+ *offset* bytes), or without
        *fn* a file *offset* (one of the two is required). *pid* >= 0 limits the
        probe to that process; *retprobe* runs it on return (a uretprobe).
        """
        from bpfman.attach import uprobe

        return self._adopt(
            uprobe.attach_uprobe(
                self, target, fn=fn, offset=offset, pid=pid, retprobe=retprobe, cookie=cookie
            )
        )

    def attach_uprobe_multi(
        self,
        target: str,
        functions: Sequence[str] = (),
        offsets: Sequence[int] = (),
        cookies: Sequence[int] | None = None,
        pid: int = -1,
        retprobe: bool = False,
    ) -> Link:
        """One link with a uprobe on each function (names or globs) and offset (Linux 6.6)."""
        from bpfman.attach import uprobe_multi

        return self._adopt(
            uprobe_multi.attach_uprobe_multi(
                self, target, functions, offsets, cookies=cookies, pid=pid, retprobe=retprobe
            )
        )

    def attach_kprobe_multi(
        self,
        pattern: str | None = None,
        functions: Sequence[str] = (),
        cookies: Sequence[int] | None = None,
        retprobe: bool = False,
    ) -> Link:
        """One link with a kprobe on every kernel function matching *pattern* (or named)."""
        from bpfman.attach import kprobe_multi

        return self._adopt(
            kprobe_multi.attach_kprobe_multi(self, pattern, functions, cookies, retprobe)
        )

    def attach_usdt(
        self, target: str, provider: str, name: str, pid: int = -1, cookie: int = 0
    ) -> Link:
        """The USDT probe *provider*:*name* of binary *target* (libbpf reads its notes)."""
        from bpfman.attach import usdt

        return self._adopt(usdt.attach_usdt(self, target, provider, name, pid=pid, cookie=cookie))

    def attach_trace(self, cookie: int = 0) -> Link:
        """fentry / fexit / fmod_ret / tp_btf / lsm: the target was fixed at load.

        A *cookie* is what the program reads with ``bpf_get_attach_cookie``.
        """
        from bpfman.attach import trampoline

        return self._adopt(trampoline.attach_trace(self, cookie=cookie))

    def attach_freplace(self, target_prog: Program | int, func_name: str) -> Link:
        """Replace the global function *func_name* of *target_prog* (a Program or an fd).

        For an ``SEC("freplace/...")`` program loaded against that target
        (``ProgramSpec.set_attach_target``); needs a kernel that allows freplace.
        """
        from bpfman.attach import trampoline

        return self._adopt(trampoline.attach_freplace(self, target_prog, func_name))

    def attach_xdp(
        self,
        iface: str | int,
        mode: str = "drv",
        fallback: bool = True,
        netns: str | None = None,
    ) -> XdpLink:
        """Attach an XDP program to the interface *iface* (a name or an index).

        *mode*: ``"drv"`` (in the driver), ``"skb"`` (generic, on every
        interface) or ``"hw"``; with *fallback* a ``drv`` attach the driver
        cannot do is retried in ``skb`` mode (the Link's ``mode`` says which).
        *netns*: the network namespace of *iface* (a path, or a name under
        /run/netns), entered by this thread for the attach only.
        """
        from bpfman import netns as _netns
        from bpfman.attach import xdp

        with _netns.enter(netns):
            return self._adopt(xdp.attach_xdp(self, iface, mode=mode, fallback=fallback))

    def attach_tc(
        self,
        iface: str | int,
        direction: str = "ingress",
        priority: int = 0,
        handle: int = 0,
        netns: str | None = None,
    ) -> TcLink:
        """Attach a tc (sched_cls) program as a direct-action filter on *iface*.

        *direction* is ``"ingress"`` or ``"egress"``; the clsact qdisc is made if
        missing (and removed with the last filter this process made). *priority*
        and *handle* 0 let the kernel choose. *netns*: the network namespace of
        *iface* (the link removes its filter there).
        """
        from bpfman import netns as _netns
        from bpfman.attach import tc

        with _netns.enter(netns):
            link = tc.attach_tc(self, iface, direction, priority=priority, handle=handle)
        return self._adopt(link)

    def attach_tcx(
        self,
        iface: str | int,
        direction: str = "ingress",
        before: Program | Link | None = None,
        after: Program | Link | None = None,
        netns: str | None = None,
    ) -> TcxLink:
        """Attach a tc (sched_cls) program to *iface* through tcx (Linux >= 6.6).

        *direction* is ``"ingress"`` or ``"egress"``; *before* / *after* (a
        Program or Link already there) place it in the chain; by default it goes
        last. Return ``TcAction.NEXT`` from the program to run the next one.
        *netns*: the network namespace of *iface*.
        """
        from bpfman import netns as _netns
        from bpfman.attach import tcx

        with _netns.enter(netns):
            link = tcx.attach_tcx(self, iface, direction, before=before, after=after)
        return self._adopt(link)

    def attach_cgroup(self, path: str, attach_type: AttachType | int | str | None = None) -> Link:
        """Attach a cgroup program to the cgroup v2 directory *path*.

        *attach_type*: an ``AttachType``, its number, or a name (``"egress"``,
        ``"sock_create"``, ``"connect4"``, ``"cgroup_inet_egress"``, ...); left
        out, the hook the program's section names (``cgroup_skb/egress``).
        """
        from bpfman.attach import cgroup

        return self._adopt(cgroup.attach_cgroup(self, path, attach_type))

    def attach_perf_event(self, perf_fd: int, cookie: int = 0) -> Link:
        """Attach a perf_event program to the perf event *perf_fd* (the caller keeps the fd)."""
        from bpfman.attach import perf_event

        return self._adopt(perf_event.attach_perf_event(self, perf_fd, cookie=cookie))
