"""Raw ``bpf()`` and ``perf_event_open()`` syscalls and the kernel's info structs.

Used where libbpf 1.1 has no API (tcx links and ordering, netfilter links,
``BPF_PROG_QUERY`` with link ids and revision), for the ``*_info`` structs, and
for the few commands the manager's read paths need (ids, fds by id, info by fd,
pins): those go through libc's ``syscall()`` here, so reading the kernel's
programs does not load libbpf.so (``bpfman list programs`` starts in a few ms;
bench/README.md). Everything here is kernel ABI, nothing else in the package
builds attr blocks by hand.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct
from ctypes import Structure, c_char, c_char_p, c_uint8, c_uint32, c_uint64

from bpfman.errors import BpfError

# libc's syscall(), mount(), umount2(): this module's own handle (bpfman._libbpf has one for
# libbpf's needs), so the raw syscalls work without loading libbpf.so
libc = ctypes.CDLL("libc.so.6", use_errno=True)
libc.syscall.restype = ctypes.c_long
libc.mount.restype = ctypes.c_int
libc.mount.argtypes = [c_char_p, c_char_p, c_char_p, ctypes.c_ulong, c_char_p]
libc.umount2.restype = ctypes.c_int
libc.umount2.argtypes = [c_char_p, ctypes.c_int]

SYS_BPF = 321
SYS_PERF_EVENT_OPEN = 298

# bpf() commands
BPF_OBJ_PIN = 6
BPF_OBJ_GET = 7
BPF_OBJ_GET_INFO_BY_FD = 15
BPF_PROG_QUERY = 16
BPF_RAW_TRACEPOINT_OPEN = 17
BPF_LINK_CREATE = 28
BPF_LINK_UPDATE = 29
BPF_LINK_DETACH = 34
BPF_ENABLE_STATS = 32
BPF_STATS_RUN_TIME = 0

# attach ordering flags (tcx, mprog)
BPF_F_REPLACE = 1 << 2
BPF_F_BEFORE = 1 << 3
BPF_F_AFTER = 1 << 4
BPF_F_ID = 1 << 5
BPF_F_LINK = 1 << 13

XDP_FLAGS_UPDATE_IF_NOEXIST = 1 << 0
XDP_FLAGS_SKB_MODE = 1 << 1
XDP_FLAGS_DRV_MODE = 1 << 2
XDP_FLAGS_HW_MODE = 1 << 3

_ATTR_SIZE = 144


def bpf(cmd: int, attr: bytes | bytearray, what: str) -> int:
    """Call ``bpf(cmd, attr, size)``; raise ``BpfError`` naming *what* on failure."""
    buf = ctypes.create_string_buffer(bytes(attr).ljust(_ATTR_SIZE, b"\0"), _ATTR_SIZE)
    ret = libc.syscall(SYS_BPF, ctypes.c_int(cmd), buf, ctypes.c_uint(_ATTR_SIZE))
    if ret < 0:
        err = ctypes.get_errno()
        raise BpfError(f"{what}: {os.strerror(err)}", errno=err)
    return int(ret)


def bpf_with_attr(cmd: int, attr: ctypes.Array[c_char], what: str) -> int:
    """Like ``bpf`` but the caller keeps *attr* to read what the kernel wrote back."""
    ret = libc.syscall(SYS_BPF, ctypes.c_int(cmd), attr, ctypes.c_uint(len(attr)))
    if ret < 0:
        err = ctypes.get_errno()
        raise BpfError(f"{what}: {os.strerror(err)}", errno=err)
    return int(ret)


def link_create_tcx(
    prog_fd: int,
    ifindex: int,
    attach_type: int,
    flags: int = 0,
    relative: int = 0,
    expected_revision: int = 0,
) -> int:
    """BPF_LINK_CREATE for tcx: returns the link fd."""
    attr = struct.pack(
        "=IIII II Q", prog_fd, ifindex, attach_type, flags, relative, 0, expected_revision
    )
    return bpf(BPF_LINK_CREATE, attr, "tcx link create")


BPF_F_UPROBE_MULTI_RETURN = 1


def raw_tracepoint_open(prog_fd: int, name: bytes | None, cookie: int = 0) -> int:
    """BPF_RAW_TRACEPOINT_OPEN with a BPF cookie (Linux >= 6.10; libbpf 1.1 has no cookie)."""
    cname = ctypes.create_string_buffer(name) if name is not None else None
    attr = struct.pack(
        "=QII Q", ctypes.addressof(cname) if cname is not None else 0, prog_fd, 0, cookie
    )
    return bpf(BPF_RAW_TRACEPOINT_OPEN, attr, "raw tracepoint open")


def link_create_uprobe_multi(
    prog_fd: int,
    path: bytes,
    offsets: list[int],
    ref_ctr_offsets: list[int] | None = None,
    cookies: list[int] | None = None,
    retprobe: bool = False,
    pid: int = 0,
    attach_type: int = 48,  # BPF_TRACE_UPROBE_MULTI
) -> int:
    """BPF_LINK_CREATE for uprobe_multi (Linux >= 6.6): one link, a uprobe per file offset.

    The optional per-offset arrays have one entry per offset; *pid* 0 is every process.
    """
    n = len(offsets)
    cpath = ctypes.create_string_buffer(path)
    offs = (ctypes.c_uint64 * n)(*offsets)
    refs = (ctypes.c_uint64 * n)(*ref_ctr_offsets) if ref_ctr_offsets else None
    cooks = (ctypes.c_uint64 * n)(*cookies) if cookies else None
    attr = struct.pack(
        "=IIII QQQQ III",
        prog_fd, 0, attach_type, 0,
        ctypes.addressof(cpath), ctypes.addressof(offs),
        ctypes.addressof(refs) if refs is not None else 0,
        ctypes.addressof(cooks) if cooks is not None else 0,
        n, BPF_F_UPROBE_MULTI_RETURN if retprobe else 0, pid,
    )  # fmt: skip
    return bpf(BPF_LINK_CREATE, attr, "uprobe_multi link create")


def enable_stats() -> int:
    """BPF_ENABLE_STATS (run time): programs count run_cnt/run_time_ns while the fd is open."""
    return bpf(BPF_ENABLE_STATS, struct.pack("=I", BPF_STATS_RUN_TIME), "enable run-time stats")


def link_detach(link_fd: int) -> None:
    bpf(BPF_LINK_DETACH, struct.pack("=I", link_fd), "link detach")


def prog_query(target: int, attach_type: int) -> tuple[list[int], list[int], int]:
    """BPF_PROG_QUERY on an ifindex or fd: (prog ids, link ids, revision).

    Link ids are 0 for programs attached without a link.
    """
    count = 64
    prog_ids = (c_uint32 * count)()
    link_ids = (c_uint32 * count)()
    attr = ctypes.create_string_buffer(_ATTR_SIZE)
    struct.pack_into(
        "=IIII Q I I Q Q Q",
        attr,
        0,
        target,
        attach_type,
        0,
        0,
        ctypes.addressof(prog_ids),
        count,
        0,
        0,
        ctypes.addressof(link_ids),
        0,
    )
    bpf_with_attr(BPF_PROG_QUERY, attr, "program query")
    (n,) = struct.unpack_from("=I", attr, 24)
    (revision,) = struct.unpack_from("=Q", attr, 56)
    return list(prog_ids[:n]), list(link_ids[:n]), int(revision)


# --------------------------------------------------------------------------- perf events


class perf_event_attr(Structure):
    _fields_ = [
        ("type", c_uint32),
        ("size", c_uint32),
        ("config", c_uint64),
        ("sample_period", c_uint64),
        ("sample_type", c_uint64),
        ("read_format", c_uint64),
        ("flags", c_uint64),
        ("wakeup_events", c_uint32),
        ("bp_type", c_uint32),
        ("config1", c_uint64),
        ("config2", c_uint64),
        ("branch_sample_type", c_uint64),
        ("sample_regs_user", c_uint64),
        ("sample_stack_user", c_uint32),
        ("clockid", ctypes.c_int32),
        ("sample_regs_intr", c_uint64),
        ("aux_watermark", c_uint32),
        ("sample_max_stack", ctypes.c_uint16),
        ("reserved_2", ctypes.c_uint16),
        ("aux_sample_size", c_uint32),
        ("reserved_3", c_uint32),
        ("sig_data", c_uint64),
        ("config3", c_uint64),
    ]


PERF_TYPE_HARDWARE = 0
PERF_TYPE_SOFTWARE = 1
PERF_TYPE_TRACEPOINT = 2
PERF_COUNT_SW_CPU_CLOCK = 0
PERF_FLAG_FD_CLOEXEC = 1 << 3
# bit positions in perf_event_attr.flags
PERF_ATTR_FLAG_DISABLED = 1 << 0
PERF_ATTR_FLAG_FREQ = 1 << 10


def perf_event_open(attr: perf_event_attr, pid: int = -1, cpu: int = 0, group_fd: int = -1) -> int:
    attr.size = ctypes.sizeof(perf_event_attr)
    ret = libc.syscall(
        SYS_PERF_EVENT_OPEN,
        ctypes.byref(attr),
        ctypes.c_int(pid),
        ctypes.c_int(cpu),
        ctypes.c_int(group_fd),
        ctypes.c_ulong(PERF_FLAG_FD_CLOEXEC),
    )
    if ret < 0:
        err = ctypes.get_errno()
        raise BpfError(f"perf_event_open: {os.strerror(err)}", errno=err)
    return int(ret)


# --------------------------------------------------------------------------- info structs


class bpf_prog_info(Structure):
    _fields_ = [
        ("type", c_uint32),
        ("id", c_uint32),
        ("tag", c_uint8 * 8),
        ("jited_prog_len", c_uint32),
        ("xlated_prog_len", c_uint32),
        ("jited_prog_insns", c_uint64),
        ("xlated_prog_insns", c_uint64),
        ("load_time", c_uint64),
        ("created_by_uid", c_uint32),
        ("nr_map_ids", c_uint32),
        ("map_ids", c_uint64),
        ("name", c_char * 16),
        ("ifindex", c_uint32),
        ("gpl_compatible", c_uint32),
        ("netns_dev", c_uint64),
        ("netns_ino", c_uint64),
        ("nr_jited_ksyms", c_uint32),
        ("nr_jited_func_lens", c_uint32),
        ("jited_ksyms", c_uint64),
        ("jited_func_lens", c_uint64),
        ("btf_id", c_uint32),
        ("func_info_rec_size", c_uint32),
        ("func_info", c_uint64),
        ("nr_func_info", c_uint32),
        ("nr_line_info", c_uint32),
        ("line_info", c_uint64),
        ("jited_line_info", c_uint64),
        ("nr_jited_line_info", c_uint32),
        ("line_info_rec_size", c_uint32),
        ("jited_line_info_rec_size", c_uint32),
        ("nr_prog_tags", c_uint32),
        ("prog_tags", c_uint64),
        ("run_time_ns", c_uint64),
        ("run_cnt", c_uint64),
        ("recursion_misses", c_uint64),
        ("verified_insns", c_uint32),
        ("attach_btf_obj_id", c_uint32),
        ("attach_btf_id", c_uint32),
        ("_pad", c_uint32),
    ]


class bpf_map_info(Structure):
    _fields_ = [
        ("type", c_uint32),
        ("id", c_uint32),
        ("key_size", c_uint32),
        ("value_size", c_uint32),
        ("max_entries", c_uint32),
        ("map_flags", c_uint32),
        ("name", c_char * 16),
        ("ifindex", c_uint32),
        ("btf_vmlinux_value_type_id", c_uint32),
        ("netns_dev", c_uint64),
        ("netns_ino", c_uint64),
        ("btf_id", c_uint32),
        ("btf_key_type_id", c_uint32),
        ("btf_value_type_id", c_uint32),
        ("_pad", c_uint32),
        ("map_extra", c_uint64),
    ]


class bpf_link_info(Structure):
    """Header of ``struct bpf_link_info``; the per-type union is kept raw."""

    _fields_ = [
        ("type", c_uint32),
        ("id", c_uint32),
        ("prog_id", c_uint32),
        ("_pad", c_uint32),
        ("union", c_uint8 * 64),
    ]


def obj_info(fd: int, info: Structure, what: str) -> None:
    """Fill *info* (a ``bpf_*_info`` struct) for *fd* (BPF_OBJ_GET_INFO_BY_FD)."""
    attr = struct.pack("=IIQ", fd, ctypes.sizeof(info), ctypes.addressof(info))
    bpf(BPF_OBJ_GET_INFO_BY_FD, attr, what)


def prog_info(fd: int, with_map_ids: bool = True) -> tuple[bpf_prog_info, list[int]]:
    """The program's info, and its map ids (one syscall unless it uses more than 32 maps)."""
    if not with_map_ids:
        info = bpf_prog_info()
        obj_info(fd, info, "program info")
        return info, []
    cap = 32
    while True:
        arr = (c_uint32 * cap)()
        info = bpf_prog_info(nr_map_ids=cap, map_ids=ctypes.addressof(arr))
        obj_info(fd, info, "program info")
        if info.nr_map_ids <= cap:
            return info, list(arr[: info.nr_map_ids])
        cap = info.nr_map_ids


def map_info(fd: int) -> bpf_map_info:
    info = bpf_map_info()
    obj_info(fd, info, "map info")
    return info


def link_info(fd: int) -> bpf_link_info:
    info = bpf_link_info()
    obj_info(fd, info, "link info")
    return info


# (GET_NEXT_ID, GET_FD_BY_ID) commands per kind of kernel object
_BY_ID = {"prog": (11, 13), "map": (12, 14), "btf": (23, 19), "link": (31, 30)}


def prog_brief(prog_id: int) -> tuple[int, str, int, str] | None:
    """(id, name, type number, tag in hex) of the program with kernel id *prog_id*, read
    without its map ids; None if there is none (any more)."""
    try:
        fd = fd_from_id("prog", prog_id)
    except BpfError:
        return None
    try:
        info, _ = prog_info(fd, with_map_ids=False)
    finally:
        os.close(fd)
    return info.id, info.name.decode(errors="replace"), int(info.type), bytes(info.tag).hex()


def fd_from_id(kind: str, obj_id: int) -> int:
    """An fd for the kernel object *kind* ("prog", "map", "link", "btf") with id *obj_id*."""
    if not 0 <= obj_id <= 0xFFFFFFFF:  # kernel ids are 32-bit: none has this one
        raise BpfError(f"no {kind} with id {obj_id}: ids are 32-bit", errno=errno.ENOENT)
    return bpf(_BY_ID[kind][1], struct.pack("=I", obj_id), f"no {kind} with id {obj_id}")


def ids(kind: str) -> list[int]:
    """All ids of kernel objects of *kind* ("prog", "map", "link")."""
    cmd = ctypes.c_int(_BY_ID[kind][0])
    attr = ctypes.create_string_buffer(12)
    size = ctypes.c_uint(12)
    out: list[int] = []
    while libc.syscall(SYS_BPF, cmd, attr, size) == 0:
        (nxt,) = struct.unpack_from("=I", attr, 4)
        out.append(nxt)
        struct.pack_into("=I", attr, 0, nxt)
    return out


def obj_get(path: str) -> int:
    """An fd for the object pinned at *path* (BPF_OBJ_GET)."""
    name = ctypes.create_string_buffer(os.fsencode(path))
    attr = struct.pack("=QII", ctypes.addressof(name), 0, 0)
    return bpf(BPF_OBJ_GET, attr, f"cannot open pin {path}")


def obj_pin(fd: int, path: str) -> None:
    """Pin the object behind *fd* at *path* (BPF_OBJ_PIN)."""
    name = ctypes.create_string_buffer(os.fsencode(path))
    bpf(BPF_OBJ_PIN, struct.pack("=QII", ctypes.addressof(name), fd, 0), f"cannot pin at {path}")


# --------------------------------------------------------------------------- raw loads (probes)

BPF_PROG_LOAD = 5
BPF_BTF_LOAD = 18

# "r0 = 0; exit": the smallest valid program
INSNS_RETURN_0 = bytes.fromhex("b700000000000000" "9500000000000000")


def prog_load(
    prog_type: int,
    insns: bytes = INSNS_RETURN_0,
    *,
    expected_attach_type: int = 0,
    attach_btf_id: int = 0,
    attach_prog_fd: int = 0,
    btf_fd: int = 0,
    func_info: bytes = b"",
    name: bytes = b"",
) -> int:
    """BPF_PROG_LOAD of raw instructions (no libbpf): the program fd.

    *func_info* is packed ``struct bpf_func_info`` records (insn_off, type_id).
    On failure the ``BpfError`` carries the errno and the verifier log.
    """
    code = ctypes.create_string_buffer(insns, len(insns))
    lic = ctypes.create_string_buffer(b"GPL")
    log = ctypes.create_string_buffer(4096)
    finfo = ctypes.create_string_buffer(func_info, max(len(func_info), 1))
    attr = ctypes.create_string_buffer(_ATTR_SIZE)
    struct.pack_into(
        "=IIQQIIQII16sIIIIQIIQIII",
        attr,
        0,
        prog_type,
        len(insns) // 8,
        ctypes.addressof(code),
        ctypes.addressof(lic),
        1,
        len(log),
        ctypes.addressof(log),
        0,
        0,
        name[:15],
        0,
        expected_attach_type,
        btf_fd,
        8 if func_info else 0,
        ctypes.addressof(finfo) if func_info else 0,
        len(func_info) // 8,
        0,
        0,
        0,
        attach_btf_id,
        attach_prog_fd,
    )
    cmd = ctypes.c_int(BPF_PROG_LOAD)
    ret = libc.syscall(SYS_BPF, cmd, attr, ctypes.c_uint(_ATTR_SIZE))
    if ret < 0:
        err = ctypes.get_errno()
        text = log.value.decode(errors="replace")
        raise BpfError(f"program load: {os.strerror(err)}", errno=err, log=text)
    return int(ret)


def btf_load(raw: bytes) -> int:
    """BPF_BTF_LOAD of a raw BTF blob: the BTF fd."""
    data = ctypes.create_string_buffer(raw, len(raw))
    attr = struct.pack("=QQII", ctypes.addressof(data), 0, len(raw), 0)
    return bpf(BPF_BTF_LOAD, attr, "BTF load")


# ----------------------------------------------------------------------- map elements (hot path)

BPF_MAP_LOOKUP_ELEM = 1
BPF_MAP_UPDATE_ELEM = 2
BPF_MAP_DELETE_ELEM = 3
BPF_MAP_GET_NEXT_KEY = 4
BPF_MAP_LOOKUP_AND_DELETE_ELEM = 21
_ELEM_ATTR_SIZE = 32  # map_fd, key, value (or next_key), flags
_syscall = libc.syscall


def elem_attr(
    map_fd: int, key_addr: int, value_addr: int, flags: int = 0
) -> ctypes.Array[c_char]:
    """A reusable ``bpf_attr`` for the BPF_MAP_*_ELEM commands on fixed buffers.

    Addresses of 0 are NULL (keyless queue/stack maps); *value_addr* is the
    next-key buffer for BPF_MAP_GET_NEXT_KEY.
    """
    attr = ctypes.create_string_buffer(_ELEM_ATTR_SIZE)
    struct.pack_into("=IIQQQ", attr, 0, map_fd, 0, key_addr, value_addr, flags)
    return attr


def set_elem_flags(attr: ctypes.Array[c_char], flags: int) -> None:
    struct.pack_into("=Q", attr, 24, flags)


def map_elem(cmd: int, attr: ctypes.Array[c_char]) -> int:
    """One element command on a prepared attr: 0 or the errno (no exception: the hot path)."""
    if _syscall(SYS_BPF, cmd, attr, _ELEM_ATTR_SIZE) < 0:
        return ctypes.get_errno()
    return 0


# mount(2) flags
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MNT_DETACH = 2


def mount(source: str, target: str, fstype: str | None, flags: int = 0, data: str = "") -> None:
    """mount(2); raise ``BpfError`` naming the target on failure."""
    ret = libc.mount(
        os.fsencode(source),
        os.fsencode(target),
        fstype.encode() if fstype else None,
        flags,
        data.encode() if data else None,
    )
    if ret != 0:
        err = ctypes.get_errno()
        raise BpfError(f"cannot mount {source} on {target}: {os.strerror(err)}", errno=err)


def umount(target: str, flags: int = 0) -> None:
    """umount2(2); raise ``BpfError`` naming the target on failure."""
    if libc.umount2(os.fsencode(target), flags) != 0:
        err = ctypes.get_errno()
        raise BpfError(f"cannot unmount {target}: {os.strerror(err)}", errno=err)
