"""The manager's SQLite state: what bpfman knows that the kernel cannot tell.

Kernel facts (tags, sizes, map ids, load times) are read live, not stored;
the tag is kept only to recognise our program when a kernel id is reused.
Schema changes are numbered migrations; foreign keys and CHECKs are on.
"""

from __future__ import annotations

import json
import mmap
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

from bpfman.manager.errors import PreconditionError
from bpfman.manager.models import (
    Attach,
    BpfmanType,
    DispatcherRecord,
    LinkRecord,
    NetAttach,
    ProgramRecord,
    attach_of,
    attach_params,
)

if TYPE_CHECKING:
    from bpfman.manager.paths import Paths

_KINDS = ", ".join(str(int(k)) for k in BpfmanType)
_HOOK_KEY = "kind, netns_ino, ifindex, direction"  # a dispatcher's hook (its row's key)
_HOOK_KINDS = f"{int(BpfmanType.XDP)}, {int(BpfmanType.TC)}"  # the kinds dispatchers run

MIGRATIONS: list[str] = [
    # 1: programs, their globals and metadata; links with their parameters
    f"""
    CREATE TABLE programs (
        id            INTEGER PRIMARY KEY CHECK (id > 0),
        name          TEXT    NOT NULL CHECK (length(name) > 0),
        kind          INTEGER NOT NULL CHECK (kind IN ({_KINDS})),
        retprobe      INTEGER NOT NULL DEFAULT 0 CHECK (retprobe IN (0, 1)),
        path          TEXT,
        image_url     TEXT,
        pull_policy   TEXT,
        attach_fn     TEXT,
        map_owner_id  INTEGER REFERENCES programs(id),
        map_pin_path  TEXT    NOT NULL,
        tag           TEXT    NOT NULL,
        created_at    TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        CHECK ((path IS NULL) <> (image_url IS NULL))
    );
    CREATE TABLE program_globals (
        program_id INTEGER NOT NULL REFERENCES programs(id) ON DELETE CASCADE,
        name       TEXT    NOT NULL,
        value      BLOB    NOT NULL,
        PRIMARY KEY (program_id, name)
    );
    CREATE TABLE program_metadata (
        program_id INTEGER NOT NULL REFERENCES programs(id) ON DELETE CASCADE,
        key        TEXT    NOT NULL,
        value      TEXT    NOT NULL,
        PRIMARY KEY (program_id, key)
    );
    CREATE TABLE links (
        id             INTEGER PRIMARY KEY AUTOINCREMENT,
        program_id     INTEGER NOT NULL REFERENCES programs(id),
        kind           INTEGER NOT NULL CHECK (kind IN ({_KINDS})),
        kernel_link_id INTEGER,
        pin_path       TEXT,
        params         TEXT    NOT NULL DEFAULT '{{}}' CHECK (json_valid(params)),
        created_at     TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    CREATE INDEX links_by_program ON links(program_id);
    CREATE TABLE link_metadata (
        link_id INTEGER NOT NULL REFERENCES links(id) ON DELETE CASCADE,
        key     TEXT    NOT NULL,
        value   TEXT    NOT NULL,
        PRIMARY KEY (link_id, key)
    );
    """,
    # 2: the image manifest an image-loaded program came from (dispatchers reload it from
    # the cache by that digest: the tag may have moved since)
    "ALTER TABLE programs ADD COLUMN image_digest TEXT;",
    # 3: map ownership as upstream's: the programs using a map directory are those whose
    # map_pin_path it is, and the owner may be unloaded before them, so map_owner_id is no
    # longer a foreign key (the table is rebuilt: SQLite cannot drop a constraint)
    f"""
    CREATE TABLE programs_v3 (
        id            INTEGER PRIMARY KEY CHECK (id > 0),
        name          TEXT    NOT NULL CHECK (length(name) > 0),
        kind          INTEGER NOT NULL CHECK (kind IN ({_KINDS})),
        retprobe      INTEGER NOT NULL DEFAULT 0 CHECK (retprobe IN (0, 1)),
        path          TEXT,
        image_url     TEXT,
        pull_policy   TEXT,
        attach_fn     TEXT,
        map_owner_id  INTEGER CHECK (map_owner_id IS NULL OR map_owner_id > 0),
        map_pin_path  TEXT    NOT NULL,
        tag           TEXT    NOT NULL,
        created_at    TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        image_digest  TEXT,
        CHECK ((path IS NULL) <> (image_url IS NULL))
    );
    INSERT INTO programs_v3 (id, name, kind, retprobe, path, image_url, pull_policy, attach_fn,
                             map_owner_id, map_pin_path, tag, created_at, image_digest)
        SELECT id, name, kind, retprobe, path, image_url, pull_policy, attach_fn,
               map_owner_id, map_pin_path, tag, created_at, image_digest FROM programs;
    DROP TABLE programs;
    ALTER TABLE programs_v3 RENAME TO programs;
    CREATE INDEX programs_by_map_pin_path ON programs(map_pin_path);
    """,
    # 4: the bytecode path as the user gave it (shown, as upstream shows it); `path` stays
    # the absolute one, from which dispatchers reload the object
    "ALTER TABLE programs ADD COLUMN given_path TEXT;",
    # 5: dispatchers as rows: one per hook (xdp, or one direction of tc) with its running
    # revision, which the member links (``links.dispatcher``) share; their params kept a copy
    # each until now (the members of a hook agree but on the qdisc, which any of them owned)
    f"""
    CREATE TABLE dispatchers (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        kind          INTEGER NOT NULL CHECK (kind IN ({_HOOK_KINDS})),
        netns         TEXT,
        netns_ino     INTEGER NOT NULL CHECK (netns_ino >= 0),
        ifindex       INTEGER NOT NULL CHECK (ifindex > 0),
        direction     TEXT    NOT NULL CHECK (direction IN ('', 'ingress', 'egress')),
        dispatcher_id INTEGER NOT NULL CHECK (dispatcher_id > 0),
        xdp_mode      TEXT    NOT NULL DEFAULT '',
        tc_handle     INTEGER NOT NULL DEFAULT 0,
        qdisc_created INTEGER NOT NULL DEFAULT 0 CHECK (qdisc_created IN (0, 1)),
        UNIQUE ({_HOOK_KEY})
    );
    ALTER TABLE links ADD COLUMN dispatcher INTEGER REFERENCES dispatchers(id);
    CREATE INDEX links_by_dispatcher ON links(dispatcher);
    CREATE TEMP VIEW members AS
        SELECT id, kind, json_extract(params, '$.netns') AS netns,
               coalesce(json_extract(params, '$.netns_ino'), 0) AS netns_ino,
               json_extract(params, '$.ifindex') AS ifindex,
               coalesce(json_extract(params, '$.direction'), '') AS direction,
               json_extract(params, '$.dispatcher_id') AS dispatcher_id,
               coalesce(json_extract(params, '$.xdp_mode'), '') AS xdp_mode,
               coalesce(json_extract(params, '$.dispatcher_handle'), 0) AS tc_handle,
               coalesce(json_extract(params, '$.tc_qdisc_created'), 0) AS qdisc_created
        FROM links WHERE kind IN ({_HOOK_KINDS})
                     AND json_extract(params, '$.dispatcher_id') IS NOT NULL;
    INSERT INTO dispatchers (kind, netns, netns_ino, ifindex, direction, dispatcher_id,
                             xdp_mode, tc_handle, qdisc_created)
        SELECT kind, netns, netns_ino, ifindex, direction, dispatcher_id, xdp_mode, tc_handle,
               max(qdisc_created)
        FROM members GROUP BY {_HOOK_KEY};
    UPDATE links SET dispatcher = (SELECT d.id FROM dispatchers d, members m
                                   WHERE m.id = links.id AND d.kind = m.kind
                                     AND d.netns_ino = m.netns_ino AND d.ifindex = m.ifindex
                                     AND d.direction = m.direction)
        WHERE id IN (SELECT id FROM members);
    UPDATE links SET params = json_remove(params, '$.dispatcher_id', '$.xdp_mode',
                                          '$.dispatcher_handle', '$.tc_qdisc_created')
        WHERE dispatcher IS NOT NULL;
    DROP VIEW members;
    """,
]


WAL_SWITCH_TIMEOUT = 30.0  # seconds: as long as a writer waits for the database (connect)

TABLES = frozenset(
    {"programs", "program_globals", "program_metadata", "links", "link_metadata", "dispatchers"}
)
# a link's row with its dispatcher's (a member's hook: NULL otherwise)
_LINK_ROWS = (
    "SELECT l.*, d.dispatcher_id AS d_id, d.xdp_mode AS d_xdp_mode, d.tc_handle AS d_tc_handle,"
    " d.qdisc_created AS d_qdisc_created FROM links l LEFT JOIN dispatchers d"
    " ON d.id = l.dispatcher"
)


class StoreError(PreconditionError):
    """The database cannot be used (corrupt, unreadable, of a newer bpfman): exit 1."""


class Store:
    """One SQLite database file; every write happens in ``transaction()``.

    With *layout* (the runtime dir's ``Paths``), the pin paths of the records read back
    are computed from their ids, never taken from the row: a path in the database is not
    trusted to name something bpfman may remove.
    """

    def __init__(self, path: str, layout: Paths | None = None) -> None:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self.path = path
        self.layout = layout
        try:
            _own_db_files(path)
        except PreconditionError as e:  # a symlink, a directory...: the database is unusable
            raise StoreError(str(e)) from None
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
        try:
            self.db.row_factory = sqlite3.Row
            self._journal_mode()
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
            self._check_tables()
        except sqlite3.Error as e:
            self.db.close()
            raise StoreError(f"database {path}: {e}{_read_only_hint(path)}") from None
        except BaseException:
            self.db.close()
            raise

    def close(self) -> None:
        self.db.close()

    def _journal_mode(self) -> None:
        """WAL (readers never wait for a writer) where the filesystem can hold its shared-memory
        index; else the rollback journal (9p, some FUSE filesystems: there a WAL database fails
        "disk I/O error" at its first write, and stays unusable)."""
        mode = self.db.execute("PRAGMA journal_mode").fetchone()[0]
        if mode == "wal" or not shared_memory_works(os.path.dirname(self.path)):
            return
        # the switch needs the database alone: with other processes opening it at once,
        # SQLite may answer "database is locked" at once instead of waiting (its busy
        # timeout does not cover it); one of them switches, the others retry and find WAL
        deadline = time.monotonic() + WAL_SWITCH_TIMEOUT
        while True:
            try:
                self.db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as e:
                if e.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                    raise
                time.sleep(0.005)

    def _migrate(self) -> None:
        """Run the migrations this database lacks, each in its own write transaction; the
        version is read inside it, so two processes opening an old database race safely.

        Foreign keys are off while they run (a table rebuild must not cascade), and each
        migration's result is checked against them before it commits. A database of a
        newer bpfman is refused, not used."""
        if self.schema_version > len(MIGRATIONS):
            raise StoreError(
                f"database {self.path}: schema {self.schema_version} is newer than this"
                f" bpfman ({len(MIGRATIONS)})"
            )
        if self.schema_version == len(MIGRATIONS):
            return
        self.db.execute("PRAGMA foreign_keys=OFF")  # a no-op inside a transaction: before
        try:
            while self.schema_version < len(MIGRATIONS):
                with self.transaction():
                    version = self.schema_version
                    if version >= len(MIGRATIONS):
                        break
                    for stmt in MIGRATIONS[version].split(";"):
                        if stmt.strip():
                            self.db.execute(stmt)
                    bad = self.db.execute("PRAGMA foreign_key_check").fetchall()
                    if bad:
                        rows = [tuple(r) for r in bad]
                        raise sqlite3.IntegrityError(
                            f"migration {version + 1} breaks foreign keys: {rows}"
                        )
                    self.db.execute(f"PRAGMA user_version={version + 1}")
        finally:
            self.db.execute("PRAGMA foreign_keys=ON")

    def _check_tables(self) -> None:
        rows = self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        missing = sorted(TABLES - {r[0] for r in rows})
        if missing:
            raise StoreError(f"database {self.path}: table {', '.join(missing)} is missing")

    @property
    def schema_version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads in one snapshot of the database (a WAL read transaction: it neither waits
        for a writer nor sees half of one); inside a transaction already, that one."""
        if self.db.in_transaction:
            yield
            return
        self.db.execute("BEGIN")
        try:
            yield
        finally:
            self.db.execute("COMMIT")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # ------------------------------------------------------------------ programs

    def add_program(self, rec: ProgramRecord) -> None:
        db = self.db
        db.execute(
            "INSERT INTO programs (id, name, kind, retprobe, path, image_url, pull_policy,"
            " attach_fn, map_owner_id, map_pin_path, tag, image_digest, given_path)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                rec.id,
                rec.name,
                int(rec.kind),
                int(rec.retprobe),
                rec.path,
                rec.image_url,
                rec.pull_policy,
                rec.attach_fn,
                rec.map_owner_id,
                rec.map_pin_path,
                rec.tag,
                rec.image_digest,
                rec.given_path,
            ),
        )
        db.executemany(
            "INSERT INTO program_globals (program_id, name, value) VALUES (?,?,?)",
            [(rec.id, k, v) for k, v in rec.globals.items()],
        )
        db.executemany(
            "INSERT INTO program_metadata (program_id, key, value) VALUES (?,?,?)",
            [(rec.id, k, v) for k, v in rec.metadata.items()],
        )

    def delete_program(self, prog_id: int) -> None:
        self.db.execute("DELETE FROM programs WHERE id = ?", (prog_id,))

    def programs(self) -> list[ProgramRecord]:
        rows = self.db.execute("SELECT * FROM programs ORDER BY id").fetchall()
        globs: dict[int, dict[str, bytes]] = {}
        for r in self.db.execute("SELECT program_id, name, value FROM program_globals"):
            globs.setdefault(r[0], {})[r[1]] = bytes(r[2])
        meta: dict[int, dict[str, str]] = {}
        for r in self.db.execute("SELECT program_id, key, value FROM program_metadata"):
            meta.setdefault(r[0], {})[r[1]] = r[2]
        return [self._program(r, globs.get(r["id"], {}), meta.get(r["id"], {})) for r in rows]

    def program(self, prog_id: int) -> ProgramRecord | None:
        row = self.db.execute("SELECT * FROM programs WHERE id = ?", (prog_id,)).fetchone()
        if row is None:
            return None
        globs = {
            r[0]: bytes(r[1])
            for r in self.db.execute(
                "SELECT name, value FROM program_globals WHERE program_id = ?", (prog_id,)
            )
        }
        meta = {
            r[0]: r[1]
            for r in self.db.execute(
                "SELECT key, value FROM program_metadata WHERE program_id = ?", (prog_id,)
            )
        }
        return self._program(row, globs, meta)

    def _program(
        self, row: sqlite3.Row, globs: dict[str, bytes], meta: dict[str, str]
    ) -> ProgramRecord:
        map_pin_path = row["map_pin_path"]
        if self.layout is not None:
            map_pin_path = self.layout.program_maps_dir(row["id"], row["map_owner_id"])
        return ProgramRecord(
            id=row["id"],
            name=row["name"],
            kind=BpfmanType(row["kind"]),
            retprobe=bool(row["retprobe"]),
            path=row["path"],
            given_path=row["given_path"],
            image_url=row["image_url"],
            pull_policy=row["pull_policy"],
            attach_fn=row["attach_fn"],
            map_owner_id=row["map_owner_id"],
            map_pin_path=map_pin_path,
            tag=row["tag"],
            globals=globs,
            metadata=meta,
            image_digest=row["image_digest"],
        )

    def map_users(self, map_pin_path: str) -> list[int]:
        """The programs using the maps pinned in *map_pin_path* (upstream's Maps Used By).

        With a layout, a ``maps/<owner>`` dir's users are found by their ids (a program's
        dir is its map owner's, else its own), not by the stored path."""
        owner = os.path.basename(map_pin_path)
        if (
            self.layout is not None
            and owner.isascii()
            and owner.isdigit()
            and map_pin_path == self.layout.maps_dir(int(owner))
        ):
            rows = self.db.execute(
                "SELECT id FROM programs WHERE coalesce(map_owner_id, id) = ? ORDER BY id",
                (int(owner),),
            )
        else:
            rows = self.db.execute(
                "SELECT id FROM programs WHERE map_pin_path = ? ORDER BY id", (map_pin_path,)
            )
        return [int(r[0]) for r in rows]

    # ------------------------------------------------------------------ links

    def add_link(
        self,
        program_id: int,
        kind: BpfmanType,
        kernel_link_id: int | None,
        pin_path: str | None,
        attach: Attach,
        metadata: dict[str, str],
        link_id: int | None = None,
    ) -> int:
        cur = self.db.execute(
            "INSERT INTO links (id, program_id, kind, kernel_link_id, pin_path, params,"
            " dispatcher) VALUES (?,?,?,?,?,?,?)",
            (
                link_id, program_id, int(kind), kernel_link_id, pin_path, _params_json(attach),
                self._dispatcher_row(kind, attach),
            ),
        )  # fmt: skip
        new_id = int(cur.lastrowid or 0)
        self.db.executemany(
            "INSERT INTO link_metadata (link_id, key, value) VALUES (?,?,?)",
            [(new_id, k, v) for k, v in metadata.items()],
        )
        return new_id

    def next_link_id(self) -> int:
        """The id the next link will get (AUTOINCREMENT never reuses one)."""
        row = self.db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'links'").fetchone()
        return (int(row[0]) if row else 0) + 1

    def update_link(self, link_id: int, kernel_link_id: int | None, attach: Attach) -> None:
        row = self.db.execute("SELECT kind FROM links WHERE id = ?", (link_id,)).fetchone()
        if row is None:
            return
        dispatcher = self._dispatcher_row(BpfmanType(row[0]), attach)
        self.db.execute(
            "UPDATE links SET kernel_link_id = ?, params = ?, dispatcher = ? WHERE id = ?",
            (kernel_link_id, _params_json(attach), dispatcher, link_id),
        )
        self._drop_idle_dispatchers()

    def _dispatcher_row(self, kind: BpfmanType, attach: Attach) -> int | None:
        """The dispatchers row of a member link's hook, written as *attach* records it (a
        new revision, the qdisc handed on); None for a link of no dispatcher."""
        if not isinstance(attach, NetAttach) or attach.dispatcher is None:
            return None
        hook, d = attach.hook, attach.dispatcher
        key = (int(kind), hook.netns_ino, hook.ifindex, hook.direction or "")
        self.db.execute(
            "INSERT INTO dispatchers (kind, netns_ino, ifindex, direction, netns, dispatcher_id,"
            " xdp_mode, tc_handle, qdisc_created) VALUES (?,?,?,?,?,?,?,?,?)"
            f" ON CONFLICT ({_HOOK_KEY}) DO UPDATE SET netns = excluded.netns,"
            " dispatcher_id = excluded.dispatcher_id, xdp_mode = excluded.xdp_mode,"
            " tc_handle = excluded.tc_handle, qdisc_created = excluded.qdisc_created",
            (*key, hook.netns, d.dispatcher_id, d.xdp_mode, d.tc_handle, int(d.qdisc_created)),
        )
        q = "SELECT id FROM dispatchers WHERE kind = ? AND netns_ino = ? AND ifindex = ?"
        return int(self.db.execute(q + " AND direction = ?", key).fetchone()[0])

    def _drop_idle_dispatchers(self) -> None:
        """Forget the dispatchers no link is a member of any more (their hook is empty)."""
        self.db.execute(
            "DELETE FROM dispatchers WHERE id NOT IN"
            " (SELECT dispatcher FROM links WHERE dispatcher IS NOT NULL)"
        )

    def update_links(self, updates: Mapping[int, tuple[int | None, Attach]]) -> None:
        """``update_link`` for each of *updates* (link id -> (kernel link id, attach)); a link
        no longer here is left out."""
        for link_id, (kernel_link_id, attach) in updates.items():
            self.update_link(link_id, kernel_link_id, attach)

    def delete_link(self, link_id: int) -> None:
        self.db.execute("DELETE FROM links WHERE id = ?", (link_id,))
        self._drop_idle_dispatchers()

    def links(self, program_id: int | None = None) -> list[LinkRecord]:
        if program_id is None:
            rows = self.db.execute(f"{_LINK_ROWS} ORDER BY l.id").fetchall()
        else:
            rows = self.db.execute(
                f"{_LINK_ROWS} WHERE l.program_id = ? ORDER BY l.id", (program_id,)
            ).fetchall()
        meta: dict[int, dict[str, str]] = {}
        for r in self.db.execute("SELECT link_id, key, value FROM link_metadata"):
            meta.setdefault(r[0], {})[r[1]] = r[2]
        return [self._link(r, meta.get(r["id"], {})) for r in rows]

    def link(self, link_id: int) -> LinkRecord | None:
        row = self.db.execute(f"{_LINK_ROWS} WHERE l.id = ?", (link_id,)).fetchone()
        if row is None:
            return None
        meta = {
            r[0]: r[1]
            for r in self.db.execute(
                "SELECT key, value FROM link_metadata WHERE link_id = ?", (link_id,)
            )
        }
        return self._link(row, meta)

    def _link(self, row: sqlite3.Row, meta: dict[str, str]) -> LinkRecord:
        pin_path = row["pin_path"]
        if pin_path is not None and self.layout is not None:
            pin_path = self.layout.link_pin(row["id"])
        kind = BpfmanType(row["kind"])
        dispatcher = None
        if row["d_id"] is not None:
            dispatcher = DispatcherRecord(
                row["d_id"], row["d_xdp_mode"], row["d_tc_handle"], bool(row["d_qdisc_created"])
            )
        return LinkRecord(
            id=row["id"],
            program_id=row["program_id"],
            kind=kind,
            kernel_link_id=row["kernel_link_id"],
            pin_path=pin_path,
            attach=attach_of(kind, json.loads(row["params"]), dispatcher),
            metadata=meta,
        )


def _params_json(attach: Attach) -> str:
    """A link's ``params`` column: its attach record as JSON (``models.attach_params``)."""
    return json.dumps(attach_params(attach))


def shared_memory_works(directory: str) -> bool:
    """Whether a file in *directory* can be mapped shared and writable, as SQLite's WAL index
    (the ``-shm`` file) is: 9p refuses it (EINVAL)."""
    probe = os.path.join(directory, f".shm-probe-{os.getpid()}-{threading.get_ident()}")
    try:
        fd = os.open(probe, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except OSError:
        return False
    try:
        os.ftruncate(fd, mmap.PAGESIZE)
        with mmap.mmap(fd, mmap.PAGESIZE, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE):
            return True
    except OSError:
        return False
    finally:
        os.close(fd)
        os.unlink(probe)


def _read_only_hint(path: str) -> str:
    """Why SQLite could not open an existing database, if its filesystem is read-only (SQLite
    says only "unable to open database file": it cannot make its journal or WAL files)."""
    try:
        read_only = bool(os.statvfs(os.path.dirname(path)).f_flag & os.ST_RDONLY)
    except OSError:
        return ""
    return " (its directory is on a read-only filesystem)" if read_only else ""


def _own_db_files(path: str) -> None:
    """The database and its WAL/shared-memory files: regular files of ours, mode 0600, never
    reached through a symlink (sqlite itself would follow one).

    An existing file is checked with lstat, never opened: closing any fd of a file drops
    every POSIX lock this process holds on it, sqlite's included (other connections of
    the daemon's threads)."""
    from bpfman.manager.safety import check_own_file, open_own_file

    try:
        os.close(open_own_file(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        check_own_file(path, 0o600)
    for suffix in ("-wal", "-shm", "-journal"):
        check_own_file(path + suffix, 0o600, missing_ok=True)
