"""Every ctypes declaration of the system libbpf (``libbpf.so.1``, >= 1.1) and libc.

Nothing else in the package calls ``ctypes.CDLL`` but ``_sys``, which opens libc
for its raw syscalls itself (so the manager's read paths need not load libbpf.so).
Functions that only newer libbpf releases have are declared when present (``has(name)`` tells).

libbpf's own messages (including the verifier log) are captured through its
print callback: ``capture()`` collects them for the duration of one operation
so errors can carry them.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import threading
from collections.abc import Iterator
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_bool,
    c_char,
    c_char_p,
    c_int,
    c_long,
    c_size_t,
    c_uint,
    c_uint8,
    c_uint32,
    c_uint64,
    c_ulong,
    c_void_p,
)
from typing import Any

lib = ctypes.CDLL("libbpf.so.1", use_errno=True)
libc = ctypes.CDLL("libc.so.6", use_errno=True)

vp = c_void_p
u32 = c_uint32
u64 = c_uint64


def _decl(name: str, restype: Any, *argtypes: Any) -> None:
    fn = getattr(lib, name, None)
    if fn is None:
        return
    fn.restype = restype
    fn.argtypes = list(argtypes)


def has(name: str) -> bool:
    """True when the loaded libbpf exports *name*."""
    return hasattr(lib, name)


def errno() -> int:
    return ctypes.get_errno()


# --------------------------------------------------------------------------- opts structs


class bpf_object_open_opts(Structure):
    _fields_ = [
        ("sz", c_size_t),
        ("object_name", c_char_p),
        ("relaxed_maps", c_bool),
        ("pin_root_path", c_char_p),
        ("attach_prog_fd", u32),  # deprecated slot kept for layout
        ("kconfig", c_char_p),
        ("btf_custom_path", c_char_p),
        ("kernel_log_buf", c_char_p),
        ("kernel_log_size", c_size_t),
        ("kernel_log_level", u32),
    ]


class bpf_test_run_opts(Structure):
    _fields_ = [
        ("sz", c_size_t),
        ("data_in", vp),
        ("data_out", vp),
        ("data_size_in", u32),
        ("data_size_out", u32),
        ("ctx_in", vp),
        ("ctx_out", vp),
        ("ctx_size_in", u32),
        ("ctx_size_out", u32),
        ("retval", u32),
        ("repeat", c_int),
        ("duration", u32),
        ("flags", u32),
        ("cpu", u32),
        ("batch_size", u32),
    ]


class bpf_map_batch_opts(Structure):
    _fields_ = [("sz", c_size_t), ("elem_flags", u64), ("flags", u64)]


class bpf_map_create_opts(Structure):
    _fields_ = [
        ("sz", c_size_t),
        ("btf_fd", u32),
        ("btf_key_type_id", u32),
        ("btf_value_type_id", u32),
        ("btf_vmlinux_value_type_id", u32),
        ("inner_map_fd", u32),
        ("map_flags", u32),
        ("map_extra", u64),
        ("numa_node", u32),
        ("map_ifindex", u32),
    ]


class _link_create_kprobe_multi(Structure):
    _fields_ = [
        ("flags", u32),
        ("cnt", u32),
        ("syms", vp),
        ("addrs", vp),
        ("cookies", vp),
    ]


class _link_create_union(ctypes.Union):
    _fields_ = [
        ("perf_event_cookie", u64),
        ("kprobe_multi", _link_create_kprobe_multi),
        ("tracing_cookie", u64),
    ]


class bpf_link_create_opts(Structure):
    _anonymous_ = ("u",)
    _fields_ = [
        ("sz", c_size_t),
        ("flags", u32),
        ("iter_info", vp),
        ("iter_info_len", u32),
        ("target_btf_id", u32),
        ("u", _link_create_union),
    ]


class bpf_link_update_opts(Structure):
    _fields_ = [("sz", c_size_t), ("flags", u32), ("old_prog_fd", u32)]


class bpf_tc_hook(Structure):
    _fields_ = [
        ("sz", c_size_t),
        ("ifindex", c_int),
        ("attach_point", c_int),
        ("parent", u32),
    ]


class bpf_tc_opts(Structure):
    _fields_ = [
        ("sz", c_size_t),
        ("prog_fd", c_int),
        ("flags", u32),
        ("prog_id", u32),
        ("handle", u32),
        ("priority", u32),
    ]


BPF_TC_INGRESS = 1
BPF_TC_EGRESS = 2
BPF_TC_CUSTOM = 4
BPF_TC_F_REPLACE = 1


class bpf_xdp_attach_opts(Structure):
    _fields_ = [("sz", c_size_t), ("old_prog_fd", c_int)]


class bpf_xdp_query_opts(Structure):
    _fields_ = [
        ("sz", c_size_t),
        ("prog_id", u32),
        ("drv_prog_id", u32),
        ("hw_prog_id", u32),
        ("skb_prog_id", u32),
        ("attach_mode", c_uint8),
    ]


XDP_ATTACHED_NONE = 0
XDP_ATTACHED_DRV = 1
XDP_ATTACHED_SKB = 2
XDP_ATTACHED_HW = 3
XDP_ATTACHED_MULTI = 4


class bpf_kprobe_multi_opts(Structure):
    _fields_ = [
        ("sz", c_size_t),
        ("syms", vp),  # const char **
        ("addrs", vp),  # const unsigned long *
        ("cookies", vp),  # const __u64 *
        ("cnt", c_size_t),
        ("retprobe", c_bool),
    ]


class bpf_usdt_opts(Structure):
    _fields_ = [("sz", c_size_t), ("usdt_cookie", u64)]


class bpf_kprobe_opts(Structure):
    _fields_ = [
        ("sz", c_size_t),
        ("bpf_cookie", u64),
        ("offset", c_size_t),
        ("retprobe", c_bool),
    ]


class bpf_uprobe_opts(Structure):
    _fields_ = [
        ("sz", c_size_t),
        ("ref_ctr_offset", c_size_t),
        ("bpf_cookie", u64),
        ("retprobe", c_bool),
        ("func_name", c_char_p),
    ]


class bpf_trace_opts(Structure):
    _fields_ = [("sz", c_size_t), ("cookie", u64)]


class perf_buffer_opts(Structure):
    _fields_ = [("sz", c_size_t)]


def opts(cls: type[Structure], **kw: Any) -> Any:
    """An opts struct with ``sz`` set, as libbpf requires."""
    o = cls(**kw)
    o.sz = ctypes.sizeof(cls)
    return o


# --------------------------------------------------------------------------- callbacks

print_fn_t = CFUNCTYPE(c_int, c_int, c_char_p, c_void_p)
perf_sample_fn = CFUNCTYPE(None, c_void_p, c_int, c_void_p, u32)
perf_lost_fn = CFUNCTYPE(None, c_void_p, c_int, u64)
ring_buffer_sample_fn = CFUNCTYPE(c_int, c_void_p, c_void_p, c_size_t)

# --------------------------------------------------------------------------- declarations

# library
_decl("libbpf_major_version", u32)
_decl("libbpf_minor_version", u32)
_decl("libbpf_set_print", c_void_p, print_fn_t)
_decl("libbpf_strerror", c_int, c_int, c_char_p, c_size_t)
_decl("libbpf_probe_bpf_prog_type", c_int, c_int, c_void_p)
_decl("libbpf_probe_bpf_map_type", c_int, c_int, c_void_p)
_decl("libbpf_probe_bpf_helper", c_int, c_int, c_int, c_void_p)
_decl("libbpf_num_possible_cpus", c_int)
_decl("libbpf_bpf_prog_type_str", c_char_p, c_int)
_decl("libbpf_bpf_map_type_str", c_char_p, c_int)
_decl("libbpf_bpf_attach_type_str", c_char_p, c_int)
_decl("libbpf_bpf_link_type_str", c_char_p, c_int)
_decl("libbpf_prog_type_by_name", c_int, c_char_p, POINTER(c_int), POINTER(c_int))

# object
_decl("bpf_object__open_file", vp, c_char_p, POINTER(bpf_object_open_opts))
_decl("bpf_object__open_mem", vp, c_void_p, c_size_t, POINTER(bpf_object_open_opts))
_decl("bpf_object__load", c_int, vp)
_decl("bpf_object__close", None, vp)
_decl("bpf_object__name", c_char_p, vp)
_decl("bpf_object__btf", vp, vp)
_decl("bpf_object__btf_fd", c_int, vp)
_decl("bpf_object__next_program", vp, vp, vp)
_decl("bpf_object__next_map", vp, vp, vp)
_decl("bpf_object__find_program_by_name", vp, vp, c_char_p)
_decl("bpf_object__find_map_by_name", vp, vp, c_char_p)
_decl("bpf_object__pin_maps", c_int, vp, c_char_p)
_decl("bpf_object__unpin_maps", c_int, vp, c_char_p)

# program
_decl("bpf_program__name", c_char_p, vp)
_decl("bpf_program__section_name", c_char_p, vp)
_decl("bpf_program__autoload", c_bool, vp)
_decl("bpf_program__set_autoload", c_int, vp, c_bool)
_decl("bpf_program__fd", c_int, vp)
_decl("bpf_program__type", c_int, vp)
_decl("bpf_program__set_type", c_int, vp, c_int)
_decl("bpf_program__expected_attach_type", c_int, vp)
_decl("bpf_program__set_expected_attach_type", c_int, vp, c_int)
_decl("bpf_program__set_attach_target", c_int, vp, c_int, c_char_p)
_decl("bpf_program__set_log_level", c_int, vp, u32)
_decl("bpf_program__log_level", u32, vp)
_decl("bpf_program__set_ifindex", None, vp, u32)
_decl("bpf_program__insn_cnt", c_size_t, vp)
_decl("bpf_program__pin", c_int, vp, c_char_p)
_decl("bpf_program__unpin", c_int, vp, c_char_p)
_decl("bpf_program__attach", vp, vp)
_decl("bpf_program__attach_tracepoint", vp, vp, c_char_p, c_char_p)
_decl("bpf_program__attach_raw_tracepoint", vp, vp, c_char_p)
_decl("bpf_program__attach_kprobe", vp, vp, c_bool, c_char_p)
_decl("bpf_program__attach_kprobe_opts", vp, vp, c_char_p, POINTER(bpf_kprobe_opts))
_decl("bpf_program__attach_uprobe", vp, vp, c_bool, c_int, c_char_p, c_size_t)
_decl(
    "bpf_program__attach_uprobe_opts",
    vp,
    vp,
    c_int,
    c_char_p,
    c_size_t,
    POINTER(bpf_uprobe_opts),
)
_decl("bpf_program__attach_trace", vp, vp)
_decl("bpf_program__attach_trace_opts", vp, vp, POINTER(bpf_trace_opts))
_decl("bpf_program__attach_lsm", vp, vp)
_decl("bpf_program__attach_xdp", vp, vp, c_int)
_decl("bpf_program__attach_cgroup", vp, vp, c_int)
_decl("bpf_program__attach_netns", vp, vp, c_int)
_decl("bpf_program__attach_freplace", vp, vp, c_int, c_char_p)
_decl("bpf_program__attach_perf_event", vp, vp, c_int)
_decl("bpf_program__attach_iter", vp, vp, vp)

# map (object level)
_decl("bpf_map__name", c_char_p, vp)
_decl("bpf_map__type", c_int, vp)
_decl("bpf_map__set_type", c_int, vp, c_int)
_decl("bpf_map__key_size", u32, vp)
_decl("bpf_map__set_key_size", c_int, vp, u32)
_decl("bpf_map__value_size", u32, vp)
_decl("bpf_map__set_value_size", c_int, vp, u32)
_decl("bpf_map__max_entries", u32, vp)
_decl("bpf_map__set_max_entries", c_int, vp, u32)
_decl("bpf_map__map_flags", u32, vp)
_decl("bpf_map__set_map_flags", c_int, vp, u32)
_decl("bpf_map__fd", c_int, vp)
_decl("bpf_map__reuse_fd", c_int, vp, c_int)
_decl("bpf_map__is_internal", c_bool, vp)
_decl("bpf_map__initial_value", c_void_p, vp, POINTER(c_size_t))
_decl("bpf_map__set_initial_value", c_int, vp, c_void_p, c_size_t)
_decl("bpf_map__btf_key_type_id", u32, vp)
_decl("bpf_map__btf_value_type_id", u32, vp)
_decl("bpf_map__set_pin_path", c_int, vp, c_char_p)
_decl("bpf_map__pin_path", c_char_p, vp)
_decl("bpf_map__is_pinned", c_bool, vp)
_decl("bpf_map__pin", c_int, vp, c_char_p)
_decl("bpf_map__unpin", c_int, vp, c_char_p)
_decl("bpf_map__set_autocreate", c_int, vp, c_bool)
_decl("bpf_map__inner_map", vp, vp)

# map (fd level)
_decl("bpf_map_create", c_int, c_int, c_char_p, u32, u32, u32, c_void_p)
_decl("bpf_map_lookup_elem", c_int, c_int, c_void_p, c_void_p)
_decl("bpf_map_lookup_elem_flags", c_int, c_int, c_void_p, c_void_p, u64)
_decl("bpf_map_update_elem", c_int, c_int, c_void_p, c_void_p, u64)
_decl("bpf_map_delete_elem", c_int, c_int, c_void_p)
_decl("bpf_map_get_next_key", c_int, c_int, c_void_p, c_void_p)
_decl("bpf_map_lookup_and_delete_elem", c_int, c_int, c_void_p, c_void_p)
_decl("bpf_map_freeze", c_int, c_int)
_decl(
    "bpf_map_lookup_batch",
    c_int,
    c_int,
    c_void_p,
    c_void_p,
    c_void_p,
    c_void_p,
    POINTER(u32),
    POINTER(bpf_map_batch_opts),
)
_decl(
    "bpf_map_lookup_and_delete_batch",
    c_int,
    c_int,
    c_void_p,
    c_void_p,
    c_void_p,
    c_void_p,
    POINTER(u32),
    POINTER(bpf_map_batch_opts),
)
_decl(
    "bpf_map_update_batch",
    c_int,
    c_int,
    c_void_p,
    c_void_p,
    POINTER(u32),
    POINTER(bpf_map_batch_opts),
)
_decl("bpf_map_delete_batch", c_int, c_int, c_void_p, POINTER(u32), POINTER(bpf_map_batch_opts))

# generic fd / id / pin
_decl("bpf_obj_pin", c_int, c_int, c_char_p)
_decl("bpf_obj_get", c_int, c_char_p)
_decl("bpf_obj_get_info_by_fd", c_int, c_int, c_void_p, POINTER(u32))
_decl("bpf_prog_get_fd_by_id", c_int, u32)
_decl("bpf_map_get_fd_by_id", c_int, u32)
_decl("bpf_link_get_fd_by_id", c_int, u32)
_decl("bpf_btf_get_fd_by_id", c_int, u32)
_decl("bpf_prog_get_next_id", c_int, u32, POINTER(u32))
_decl("bpf_map_get_next_id", c_int, u32, POINTER(u32))
_decl("bpf_link_get_next_id", c_int, u32, POINTER(u32))
_decl("bpf_prog_test_run_opts", c_int, c_int, POINTER(bpf_test_run_opts))
_decl("bpf_prog_attach", c_int, c_int, c_int, c_int, c_uint)
_decl("bpf_prog_detach2", c_int, c_int, c_int, c_int)
_decl(
    "bpf_prog_query",
    c_int,
    c_int,
    c_int,
    u32,
    POINTER(u32),
    POINTER(u32),
    POINTER(u32),
)
_decl("bpf_link_create", c_int, c_int, c_int, c_int, POINTER(bpf_link_create_opts))
_decl("bpf_link_update", c_int, c_int, c_int, POINTER(bpf_link_update_opts))
_decl("bpf_link_detach", c_int, c_int)
_decl("bpf_raw_tracepoint_open", c_int, c_char_p, c_int)

# link objects
_decl("bpf_link__open", vp, c_char_p)
_decl("bpf_link__fd", c_int, vp)
_decl("bpf_link__pin", c_int, vp, c_char_p)
_decl("bpf_link__pin_path", c_char_p, vp)
_decl("bpf_link__unpin", c_int, vp)
_decl("bpf_link__update_program", c_int, vp, vp)
_decl("bpf_link__disconnect", None, vp)
_decl("bpf_link__detach", c_int, vp)
_decl("bpf_link__destroy", c_int, vp)
_decl("bpf_link__disconnect", None, vp)
_decl(
    "bpf_program__attach_kprobe_multi_opts",
    vp, vp, c_char_p, POINTER(bpf_kprobe_multi_opts),
)  # fmt: skip
_decl(
    "bpf_program__attach_usdt",
    vp, vp, c_int, c_char_p, c_char_p, c_char_p, POINTER(bpf_usdt_opts),
)  # fmt: skip

# xdp / tc (netlink)
_decl("bpf_xdp_attach", c_int, c_int, c_int, u32, POINTER(bpf_xdp_attach_opts))
_decl("bpf_xdp_detach", c_int, c_int, u32, POINTER(bpf_xdp_attach_opts))
_decl("bpf_xdp_query_id", c_int, c_int, c_int, POINTER(u32))
_decl("bpf_xdp_query", c_int, c_int, c_int, POINTER(bpf_xdp_query_opts))
_decl("bpf_tc_hook_create", c_int, POINTER(bpf_tc_hook))
_decl("bpf_tc_hook_destroy", c_int, POINTER(bpf_tc_hook))
_decl("bpf_tc_attach", c_int, POINTER(bpf_tc_hook), POINTER(bpf_tc_opts))
_decl("bpf_tc_detach", c_int, POINTER(bpf_tc_hook), POINTER(bpf_tc_opts))
_decl("bpf_tc_query", c_int, POINTER(bpf_tc_hook), POINTER(bpf_tc_opts))

# btf
_decl("btf__raw_data", c_void_p, vp, POINTER(u32))
_decl("btf__load_vmlinux_btf", vp)
_decl("btf__load_from_kernel_by_id", vp, u32)
_decl("btf__parse", vp, c_char_p, c_void_p)
_decl("btf__free", None, vp)
_decl("btf__find_by_name_kind", c_int, vp, c_char_p, u32)
_decl("btf__type_cnt", u32, vp)

# perf buffer
_decl(
    "perf_buffer__new",
    vp,
    c_int,
    c_size_t,
    perf_sample_fn,
    perf_lost_fn,
    c_void_p,
    POINTER(perf_buffer_opts),
)
_decl("perf_buffer__free", None, vp)
_decl("perf_buffer__epoll_fd", c_int, vp)
_decl("perf_buffer__poll", c_int, vp, c_int)
_decl("perf_buffer__consume", c_int, vp)
_decl("perf_buffer__consume_buffer", c_int, vp, c_size_t)
_decl("perf_buffer__buffer_cnt", c_size_t, vp)
_decl("perf_buffer__buffer_fd", c_int, vp, c_size_t)

# ring buffer (libbpf's consumer; pybpfman reads the ring itself, see ringbuf.py)
_decl("ring_buffer__new", vp, c_int, ring_buffer_sample_fn, c_void_p, c_void_p)
_decl("ring_buffer__add", c_int, vp, c_int, ring_buffer_sample_fn, c_void_p)
_decl("ring_buffer__free", None, vp)
_decl("ring_buffer__poll", c_int, vp, c_int)
_decl("ring_buffer__consume", c_int, vp)
_decl("ring_buffer__epoll_fd", c_int, vp)

# libc
libc.vsnprintf.restype = c_int
libc.vsnprintf.argtypes = [c_char_p, c_size_t, c_char_p, c_void_p]
libc.syscall.restype = c_long
libc.setns.restype = c_int
libc.setns.argtypes = [c_int, c_int]
libc.if_nametoindex.restype = c_uint
libc.if_nametoindex.argtypes = [c_char_p]

__all__ = [
    "POINTER",
    "c_char",
    "c_uint8",
    "c_ulong",
    "capture",
    "has",
    "lib",
    "libc",
    "opts",
]

# --------------------------------------------------------------------------- log capture

LIBBPF_WARN, LIBBPF_INFO, LIBBPF_DEBUG = 0, 1, 2

# every libbpf message goes to this logger, at the mapped level, and on to the
# application's handlers; its NullHandler keeps logging's last-resort stderr
# handler away from it alone (libbpf's warnings of a failure the caller gets as
# a BpfError are not printed twice), not from bpfman's other loggers
log = logging.getLogger("bpfman.libbpf")
log.addHandler(logging.NullHandler())
LEVELS = {LIBBPF_WARN: logging.WARNING, LIBBPF_INFO: logging.INFO, LIBBPF_DEBUG: logging.DEBUG}

_tls = threading.local()


class Captured(list[str]):
    """libbpf's warnings and infos printed during a ``capture()``; ``debug`` its debug lines
    (only collected when the capture asked for them)."""

    def __init__(self, want_debug: bool) -> None:
        super().__init__()
        self.want_debug = want_debug
        self.debug: list[str] = []


def _on_print(level: int, fmt: bytes | None, va: int | None) -> int:
    pylevel = LEVELS.get(level, logging.DEBUG)
    sinks: list[Captured] = getattr(_tls, "stack", [])
    wanted = [s for s in sinks if level != LIBBPF_DEBUG or s.want_debug]
    if not wanted and not log.isEnabledFor(pylevel):
        return 0
    buf = ctypes.create_string_buffer(8192)
    n = libc.vsnprintf(buf, len(buf), fmt, va)
    text = buf.value.decode(errors="replace")
    if n >= len(buf):
        text += "...(truncated)\n"
    for sink in wanted:
        (sink.debug if level == LIBBPF_DEBUG else sink).append(text)
    if log.isEnabledFor(pylevel):
        log.log(pylevel, "%s", text.removeprefix("libbpf: ").rstrip("\n"))
    return 0


_print_cb = print_fn_t(_on_print)
lib.libbpf_set_print(_print_cb)


@contextlib.contextmanager
def capture(debug: bool = False) -> Iterator[Captured]:
    """Collect libbpf's messages printed by this thread while the block runs.

    Warnings and infos always; debug lines (in ``.debug``) with *debug*.
    """
    sink = Captured(debug)
    stack: list[Captured] = getattr(_tls, "stack", None) or []
    stack.append(sink)
    _tls.stack = stack
    try:
        yield sink
    finally:
        stack.remove(sink)


def strerror(err: int) -> str:
    buf = ctypes.create_string_buffer(256)
    lib.libbpf_strerror(err, buf, len(buf))
    return buf.value.decode(errors="replace")


def version() -> tuple[int, int]:
    return int(lib.libbpf_major_version()), int(lib.libbpf_minor_version())
