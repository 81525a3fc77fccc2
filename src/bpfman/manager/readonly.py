"""The read commands' view of bpfman's state: stored rows and kernel facts as the API's dicts.

``list programs``, ``get program`` and ``get link`` read here straight from
SQLite rows, without the Manager (no writer lock, no config, no bpffs layout
check) and without the modules a write needs: importing this pulls only
SQLite's C module; ``ctypes`` (``_sys``) comes with the first kernel read. That is
what lets the CLI's fast path (``bpfman.cli.fast``) start within 2x of the bare
interpreter (bench/README.md). The dicts are the same ``views``/``query``
build from records for the daemon: ``program_message`` and the kernel reads
are shared, the rest is checked equal by tests/test_cli_startup.py.
"""

from __future__ import annotations

# The C module the ``sqlite3`` package re-exports (``sqlite3.dbapi2``: ``from _sqlite3 import
# *``; the same classes and exceptions): the package adds only the date/time adapters, whose
# ``datetime`` import alone costs these commands ~2 ms, a seventh of the interpreter's own
# start-up. Nothing read here is a date.
import _sqlite3 as sqlite3
import binascii
import os
import time

from bpfman.manager.paths import Paths
from bpfman.manager.typetable import ATTACHMENT_KEYS, TYPES
from bpfman.manager.typetable import attachment as attachment
from bpfman.manager.typetable import type_word as type_word

TYPE_CHECKING = False  # typing's import costs start-up; mypy reads the name as True
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

SQLiteError = sqlite3.Error  # (sqlite3.Error itself) what a read raises besides OSError
SCHEMA_VERSION = 5  # len(store.MIGRATIONS): another version is the Store's to open
PULL_POLICY_NUMBER = {"Always": 0, "IfNotPresent": 1, "Never": 2}


# the kernel's program types (``enum bpf_prog_type``) by number as upstream words them
# (``kinds.kernel_type_word``: ``probe`` for kprobe, ``tc`` for sched_cls, else the name in
# lower case): a plain table, since ``kinds``' enums cost the fast path more than its own
# imports (tests/test_cli_startup.py checks it against ``kinds.ProgramType``)
KERNEL_TYPE_WORDS = (
    "unspec", "socket_filter", "probe", "tc", "sched_act", "tracepoint", "xdp", "perf_event",
    "cgroup_skb", "cgroup_sock", "lwt_in", "lwt_out", "lwt_xmit", "sock_ops", "sk_skb",
    "cgroup_device", "sk_msg", "raw_tracepoint", "cgroup_sock_addr", "lwt_seg6local",
    "lirc_mode2", "sk_reuseport", "flow_dissector", "cgroup_sysctl", "raw_tracepoint_writable",
    "cgroup_sockopt", "tracing", "struct_ops", "ext", "lsm", "sk_lookup", "syscall", "netfilter",
)  # fmt: skip


def kernel_type_word(value: int) -> str:
    """Upstream's word for kernel program type *value* (the number if it has none)."""
    return KERNEL_TYPE_WORDS[value] if 0 <= value < len(KERNEL_TYPE_WORDS) else str(value)


def public(result: dict[str, Any]) -> dict[str, Any]:
    """Drop the private ``_`` keys (CLI-only hints) from a result."""
    return {k: v for k, v in result.items() if not k.startswith("_")}


class Connection(sqlite3.Connection):
    """A connection that knows its runtime root (pin paths are computed from it)."""

    root = ""


def connect(root: str) -> sqlite3.Connection | None:
    """A connection to the store under runtime root *root* for reading, or None when there is
    none yet or its schema is not this code's (the Store creates and migrates)."""
    path = Paths(root).db
    if not (_trusted(root, directory=True) and _trusted(path, directory=False)):
        return None  # missing, or not safe to read: the Manager's path says why
    db = sqlite3.connect(path, timeout=30, isolation_level=None, factory=Connection)
    db.root = root
    try:
        (version,) = db.execute("PRAGMA user_version").fetchone()
    except sqlite3.Error:
        version = None
    if version != SCHEMA_VERSION:
        db.close()
        return None
    db.row_factory = sqlite3.Row
    return db


def _trusted(path: str, *, directory: bool) -> bool:
    """``safety``'s rules in two lstat calls: no symlink, ours, not writable by others."""
    import stat

    try:
        st = os.lstat(path)
    except OSError:
        return False
    kind = stat.S_ISDIR(st.st_mode) if directory else stat.S_ISREG(st.st_mode)
    return kind and st.st_uid == os.geteuid() and not st.st_mode & 0o022


def _maps_dir(db: sqlite3.Connection, row: sqlite3.Row) -> str:
    """The program's maps dir computed from its ids under the database's runtime root (the
    row's map_pin_path is not trusted)."""
    if isinstance(db, Connection) and db.root:
        return Paths(db.root).program_maps_dir(row["id"], row["map_owner_id"])
    return str(row["map_pin_path"])  # (a connection not made by ``connect``)


def link_attachments(db: sqlite3.Connection, prog_id: int) -> dict[int, str]:
    """Link id -> attachment of program *prog_id*'s links (SQLite reads the JSON: no json
    import on the fast path)."""
    keys = ATTACHMENT_KEYS
    fields = ", ".join(f"json_extract(params, '$.{k}')" for k in keys)
    q = f"SELECT id, kind, {fields} FROM links WHERE program_id = ? ORDER BY id"
    return {
        r[0]: attachment(r[1], {k: v for k, v in zip(keys, r[2:], strict=True) if v is not None})
        for r in db.execute(q, (prog_id,))
    }


# ---------------------------------------------------------------------------- kernel


def format_time(epoch: float) -> str:
    """*epoch* in local time with its UTC offset (``2026-12-02T15:04:05+0000``)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(epoch))


def _memlock(fd: int) -> int:
    """The ``memlock:`` of the fd's /proc fdinfo (0 if unreadable), in one read."""
    try:
        proc = os.open(f"/proc/self/fdinfo/{fd}", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return 0
    try:
        data = os.read(proc, 4096)
    except OSError:
        return 0
    finally:
        os.close(proc)
    for line in data.split(b"\n"):
        if line.startswith(b"memlock:"):
            return int(line.split()[1])
    return 0


def kernel_info_of_fd(fd: int) -> dict[str, Any]:
    """KernelProgramInfo of the program behind *fd*."""
    from bpfman import _sys

    info, map_ids = _sys.prog_info(fd)
    boot = time.time() - time.clock_gettime(time.CLOCK_BOOTTIME)
    return {
        "id": info.id,
        "name": info.name.decode(errors="replace"),
        "program_type": int(info.type),
        "loaded_at": format_time(boot + info.load_time / 1e9),
        "tag": bytes(info.tag).hex(),
        "gpl_compatible": bool(info.gpl_compatible & 1),
        "map_ids": map_ids,
        "btf_id": info.btf_id,
        "bytes_xlated": info.xlated_prog_len,
        "jited": info.jited_prog_len > 0,
        "bytes_jited": info.jited_prog_len,
        "bytes_memlock": _memlock(fd),
        "verified_insns": info.verified_insns,
    }


def kernel_info_by_id(prog_id: int) -> dict[str, Any] | None:
    """KernelProgramInfo of the program with kernel id *prog_id*, or None if it is gone."""
    from bpfman import _sys
    from bpfman.errors import BpfError

    try:
        fd = _sys.fd_from_id("prog", prog_id)
    except BpfError:
        return None
    try:
        return kernel_info_of_fd(fd)
    finally:
        os.close(fd)


def in_kernel(prog_id: int) -> bool:
    """Whether a program with kernel id *prog_id* is loaded (an fd opened and closed)."""
    from bpfman import _sys
    from bpfman.errors import BpfError

    try:
        fd = _sys.fd_from_id("prog", prog_id)
    except BpfError:
        return False
    os.close(fd)
    return True


def kernel_brief_by_id(prog_id: int) -> dict[str, Any] | None:
    """The part of KernelProgramInfo ``list programs``' table shows (id, name,
    program_type), plus the tag that tells our program from a reused id; None if gone.

    A lighter read than ``kernel_info_by_id``: no map ids, no load-time
    formatting, no /proc read.
    """
    from bpfman import _sys

    brief = _sys.prog_brief(prog_id)
    if brief is None:
        return None
    kid, name, ptype, tag = brief
    return {"id": kid, "name": name, "program_type": ptype, "tag": tag}


# ---------------------------------------------------------------------------- messages


def program_message(
    prog_id: int,
    name: str,
    path: str | None,
    image_url: str | None,
    pull_policy: str | None,
    map_owner_id: int | None,
    map_pin_path: str,
    globals_: Mapping[str, bytes],
    metadata: Mapping[str, str],
    link_ids: Sequence[int],
    map_users: Sequence[int],
) -> dict[str, Any]:
    """ProgramInfo: bpfman's state of a program it loaded (*map_users*: the programs using
    the maps in its map_pin_path, itself included)."""
    bytecode: dict[str, Any]
    if image_url:
        number = PULL_POLICY_NUMBER.get(pull_policy or "IfNotPresent", 1)
        # as upstream: the credentials' fields present and empty (never the credentials)
        image = {"url": image_url, "image_pull_policy": number, "username": "", "password": ""}
        bytecode = {"image": image}
    else:
        bytecode = {"file": path}
    out: dict[str, Any] = {
        "name": name,
        "bytecode": bytecode,
        "links": list(link_ids),
        "global_data": {
            k: binascii.b2a_base64(v, newline=False).decode() for k, v in globals_.items()
        },
        "map_pin_path": map_pin_path,
        "map_used_by": [str(i) for i in map_users],
        "metadata": dict(metadata),
    }
    if map_owner_id is not None:
        out["map_owner_id"] = map_owner_id
    return out


def _message(
    db: sqlite3.Connection,
    row: sqlite3.Row,
    globals_: Mapping[str, bytes],
    metadata: Mapping[str, str],
    link_ids: Sequence[int],
    map_users: Sequence[int],
) -> dict[str, Any]:
    return program_message(
        row["id"], row["name"], row["given_path"] or row["path"], row["image_url"],
        row["pull_policy"], row["map_owner_id"], _maps_dir(db, row), globals_, metadata,
        link_ids, map_users,
    )  # fmt: skip


def list_programs(db: sqlite3.Connection, show_all: bool, brief: bool) -> list[dict[str, Any]]:
    """``query.list_programs`` without filters: bpfman's programs still in the kernel (and,
    with *show_all*, every other program), ordered by id; the rows of one snapshot."""
    db.execute("BEGIN")
    try:
        return _list_programs(db, show_all, brief)
    finally:
        db.execute("COMMIT")


def _list_programs(db: sqlite3.Connection, show_all: bool, brief: bool) -> list[dict[str, Any]]:
    rows = {r["id"]: r for r in db.execute("SELECT * FROM programs ORDER BY id")}
    globs: dict[int, dict[str, bytes]] = {}
    for r in db.execute("SELECT program_id, name, value FROM program_globals"):
        globs.setdefault(r[0], {})[r[1]] = bytes(r[2])
    meta: dict[int, dict[str, str]] = {}
    for r in db.execute("SELECT program_id, key, value FROM program_metadata"):
        meta.setdefault(r[0], {})[r[1]] = r[2]
    links: dict[int, list[int]] = {}
    for r in db.execute("SELECT id, program_id FROM links ORDER BY id"):
        links.setdefault(r[1], []).append(r[0])
    users: dict[str, list[int]] = {}  # map_pin_path -> its programs (Maps Used By)
    for r in rows.values():
        users.setdefault(r["map_pin_path"], []).append(r["id"])
    if show_all:
        from bpfman import _sys

        ids = sorted(set(_sys.ids("prog")) | set(rows))
    else:
        ids = list(rows)
    read_kernel = kernel_brief_by_id if brief else kernel_info_by_id
    out: list[dict[str, Any]] = []
    for prog_id in ids:
        row = rows.get(prog_id)
        kernel = read_kernel(prog_id)
        if kernel is None or (row is not None and kernel["tag"] != row["tag"]):
            continue  # gone from the kernel: doctor reports it
        if row is None:
            out.append({"kernel_info": kernel})
            continue
        info = _message(
            db, row, globs.get(prog_id, {}), meta.get(prog_id, {}), links.get(prog_id, []),
            users.get(row["map_pin_path"], []),
        )  # fmt: skip
        word = type_word(row["kind"], bool(row["retprobe"]))
        out.append({"info": info, "kernel_info": kernel, "_type_word": word})
    return out


def program_result(db: sqlite3.Connection, prog_id: int) -> dict[str, Any] | None:
    """``query.program_result`` of *prog_id*: None when that is an error (not found, or in
    the store but gone from the kernel: the caller reports it as the Manager does)."""
    db.execute("BEGIN")
    try:
        return _program_result(db, prog_id)
    finally:
        db.execute("COMMIT")


def _program_result(db: sqlite3.Connection, prog_id: int) -> dict[str, Any] | None:
    row = db.execute("SELECT * FROM programs WHERE id = ?", (prog_id,)).fetchone()
    kernel = kernel_info_by_id(prog_id)
    if kernel is None or (row is not None and kernel["tag"] != row["tag"]):
        return None
    if row is None:
        return {"kernel_info": kernel}
    q = "SELECT name, value FROM program_globals WHERE program_id = ?"
    globs = {r[0]: bytes(r[1]) for r in db.execute(q, (prog_id,))}
    q = "SELECT key, value FROM program_metadata WHERE program_id = ?"
    meta = {r[0]: r[1] for r in db.execute(q, (prog_id,))}
    attachments = link_attachments(db, prog_id)  # by link id: the Links, read once
    q = "SELECT id FROM programs WHERE map_pin_path = ? ORDER BY id"
    users = [r[0] for r in db.execute(q, (row["map_pin_path"],))]
    info = _message(db, row, globs, meta, list(attachments), users)
    word = type_word(row["kind"], bool(row["retprobe"]))
    return {"info": info, "kernel_info": kernel, "_type_word": word, "_attachments": attachments}


# ---------------------------------------------------------------------------- links


_JSON_SCALAR = {"true": True, "false": False}


def links_table(db: sqlite3.Connection, program_id: int | None) -> list[list[Any]]:
    """``list links``' rows (program id, link id, application, type, function name,
    attachment) of bpfman's links (of *program_id*), by link id."""
    programs = {r[0]: r for r in db.execute("SELECT id, name, kind, retprobe FROM programs")}
    q = "SELECT program_id, value FROM program_metadata WHERE key = 'bpfman_application'"
    apps = dict(db.execute(q).fetchall())
    where = "" if program_id is None else " WHERE l.program_id = ?"
    args = () if program_id is None else (program_id,)
    shown = ", ".join(f"'{k}'" for k in ATTACHMENT_KEYS)
    params: dict[int, dict[str, Any]] = {}
    q = (
        "SELECT l.id, j.key, j.value, j.type FROM links l, json_each(l.params) j"
        f"{where}{' AND' if where else ' WHERE'} j.key IN ({shown})"
    )
    for link_id, key, value, kind in db.execute(q, args):
        params.setdefault(link_id, {})[key] = _JSON_SCALAR.get(kind, value)
    rows: list[list[Any]] = []
    q = f"SELECT l.id, l.program_id, l.kind FROM links l{where} ORDER BY l.id"
    for link_id, prog_id, kind in db.execute(q, args):
        prog = programs.get(prog_id)
        rows.append(
            [
                prog_id,
                link_id,
                apps.get(prog_id, "") if prog else "",
                type_word(prog[2], bool(prog[3])) if prog else "",
                prog[1] if prog else "",
                attachment(kind, params.get(link_id, {})),
            ]
        )
    return rows


def link_message(
    link_id: int,
    program_id: int,
    kernel_link_id: int | None,
    kind: int,
    params: Mapping[str, Any],
    metadata: Mapping[str, str],
    program_name: str | None,
    program_type_word: str | None,
) -> dict[str, Any]:
    """LinkInfo of a link (*program_name* None: its program is not in the store)."""
    row = TYPES[kind]
    fields = {k: params.get(k) for k in row.attach_fields}
    body = {k: v for k, v in fields.items() if v is not None}
    body["metadata"] = dict(metadata)
    return {
        "link_id": link_id,
        "program_id": program_id,
        "kernel_link_id": kernel_link_id,
        "bpf_function": program_name or "",
        "program_type": program_type_word if program_name is not None else row.word,
        "attach": {row.attach_info: body},
    }


def _link_params(db: sqlite3.Connection, link_id: int) -> dict[str, Any]:
    """A link's stored parameters, through SQLite's json_each (no json import): scalars, and
    arrays of scalars (``proceed_on``)."""
    params: dict[str, Any] = {}
    q = "SELECT j.key, j.value, j.type FROM links l, json_each(l.params) j WHERE l.id = ?"
    for key, value, kind in db.execute(q, (link_id,)).fetchall():
        if kind == "array":
            q = "SELECT e.value, e.type FROM links l, json_each(l.params, ?) e WHERE l.id = ?"
            items = db.execute(q, (f'$."{key}"', link_id)).fetchall()
            params[key] = [_JSON_SCALAR.get(t, v) for v, t in items]
        elif kind == "object":
            raise sqlite3.DataError(f"link {link_id}: parameter {key} is an object")
        else:
            params[key] = _JSON_SCALAR.get(kind, value)
    return params


def link_result(db: sqlite3.Connection, link_id: int) -> tuple[dict[str, Any], int, Any] | None:
    """(LinkInfo, kind, its program's attach function) of link *link_id*; None if there is none
    (the Manager says so)."""
    row = db.execute("SELECT * FROM links WHERE id = ?", (link_id,)).fetchone()
    if row is None:
        return None
    q = "SELECT key, value FROM link_metadata WHERE link_id = ?"
    meta = {r[0]: r[1] for r in db.execute(q, (link_id,))}
    q = "SELECT name, kind, retprobe, attach_fn FROM programs WHERE id = ?"
    prog = db.execute(q, (row["program_id"],)).fetchone()
    info = link_message(
        row["id"], row["program_id"], row["kernel_link_id"], row["kind"],
        _link_params(db, link_id), meta,
        prog["name"] if prog else None,
        type_word(prog["kind"], bool(prog["retprobe"])) if prog else None,
    )  # fmt: skip
    return info, row["kind"], prog["attach_fn"] if prog else None


def links_info(db: sqlite3.Connection, program_id: int | None) -> list[dict[str, Any]]:
    """``list links -o json`` without filters: the LinkInfo of each of bpfman's links (of
    *program_id*), by link id; the rows of one snapshot."""
    where, args = ("", ()) if program_id is None else (" WHERE program_id = ?", (program_id,))
    db.execute("BEGIN")
    try:
        ids = [r[0] for r in db.execute(f"SELECT id FROM links{where} ORDER BY id", args)]
        return [found[0] for i in ids if (found := link_result(db, i)) is not None]
    finally:
        db.execute("COMMIT")
