"""No local user can steer root's bpfman: a non-root user (``useradd``-ed here, driven with
``runuser``) against a root-owned runtime dir, and entries planted as an older bpfman (bpffs
mounted 1777) let any user plant them. Each test asserts that nothing outside bpfman's own
objects changed: a victim directory keeps its files, another runtime's link keeps running."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from support.cli import Cli
from support.net import XDP_PASS


@dataclass(frozen=True)
class User:
    name: str
    uid: int
    gid: int

    def run(self, *cmd: str) -> subprocess.CompletedProcess[str]:
        """*cmd* as this user (``runuser``: no password, no login shell needed)."""
        return subprocess.run(
            ["runuser", "-u", self.name, "--", *cmd], capture_output=True, text=True, timeout=30
        )


def _retry(cmd: list[str]) -> None:
    """useradd/userdel take /etc/passwd's lock: another test process may hold it a moment."""
    for _ in range(50):
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode == 0:
            return
        if "lock" not in p.stderr:
            raise AssertionError(f"{' '.join(cmd)}: {p.stderr}")
        time.sleep(0.1)
    raise AssertionError(f"{' '.join(cmd)}: /etc/passwd stayed locked")


@pytest.fixture
def user() -> Iterator[User]:
    """A fresh non-root user (unique name, no home), removed afterwards."""
    import pwd

    name = f"bpft{os.getpid() % 100000}{uuid.uuid4().hex[:6]}"
    with contextlib.suppress(KeyError):  # idempotent: a leftover of a killed run
        pwd.getpwnam(name)
        _retry(["userdel", name])
    _retry(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name])
    pw = pwd.getpwnam(name)
    try:
        yield User(name, pw.pw_uid, pw.pw_gid)
    finally:
        _retry(["userdel", name])


@pytest.fixture
def runtime() -> Iterator[Cli]:
    """A private runtime dir; whatever a test planted in it goes with it."""
    c = Cli()
    yield c
    c.cleanup()


@pytest.fixture
def victim(tmp_path) -> Iterator[str]:
    """A directory with files root's bpfman must never touch."""
    d = tmp_path / "victim"
    d.mkdir()
    for n in ("a", "b"):
        (d / n).write_text("keep\n")
    yield str(d)
    assert sorted(os.listdir(d)) == ["a", "b"], "bpfman changed a directory it does not own"
    assert all((d / n).read_text() == "keep\n" for n in ("a", "b"))


def one_line_error(r, *words: str) -> None:
    assert r.rc == 1, (r.rc, r.err, r.out)
    assert "Traceback" not in r.err and len(r.err.strip().splitlines()) == 1, r.err
    for w in words:
        assert w in r.err, r.err


def mode(path: str) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def bpffs_options(path: str) -> str:
    with open("/proc/self/mounts") as f:
        for line in f:
            fields = line.split()
            if fields[1] == path and fields[2] == "bpf":
                return fields[3]
    raise AssertionError(f"no bpffs at {path}")


# ---------------------------------------------------------------------- permissions


def test_runtime_dir_is_root_only(runtime, user, bpf_obj) -> None:
    runtime("load", "file", "-p", bpf_obj("basic"), "--programs", "tracepoint:count_kill")
    rt = runtime.runtime
    assert mode(rt) == 0o700 and os.stat(rt).st_uid == 0
    assert mode(runtime.fs) & 0o077 == 0 and "mode=700" in bpffs_options(runtime.fs)
    for d in ("fs/maps", "fs/links", "db"):
        assert mode(os.path.join(rt, d)) == 0o700, d
    assert mode(os.path.join(rt, "db", "bpfman.db")) == 0o600
    assert mode(os.path.join(rt, ".lock")) == 0o600
    # the user can neither plant nor read anything in it
    for cmd in (
        ["touch", f"{rt}/fs/prog_1"],
        ["mkdir", f"{rt}/fs/xdp"],
        ["ls", rt],
        ["cat", f"{rt}/db/bpfman.db"],
    ):
        p = user.run(*cmd)
        assert p.returncode != 0 and "Permission denied" in p.stderr, (cmd, p.stderr)
    prog = runtime("list", "programs", "-o", "json").json()[0]["kernel_info"]["id"]
    runtime("unload", str(prog))


def test_older_runtime_dir_is_narrowed(runtime) -> None:
    """A runtime dir and bpffs made by an older bpfman (0755, a 1777 bpffs, a 0644 DB):
    narrowed to root-only on first use, not refused (root owns all of it)."""
    rt = runtime.runtime
    os.makedirs(f"{rt}/fs", 0o755)
    os.chmod(rt, 0o755)
    subprocess.run(["mount", "-t", "bpf", "bpf", runtime.fs], check=True)
    assert mode(runtime.fs) == 0o1777
    runtime("list", "programs")
    os.chmod(f"{rt}/db/bpfman.db", 0o644)
    runtime("doctor")  # (through the Manager: list and get read without it)
    assert mode(rt) == 0o700 and mode(runtime.fs) == 0o1700
    assert mode(f"{rt}/db/bpfman.db") == 0o600


def test_refuses_a_runtime_dir_others_control(user, tmp_path) -> None:
    owned = tmp_path / "owned"  # the user's own dir (e.g. made before root's first use)
    owned.mkdir()
    os.chown(owned, user.uid, user.gid)
    writable = tmp_path / "writable"
    writable.mkdir()
    os.chmod(writable, 0o777)
    parent = tmp_path / "userparent"  # root's dir inside a dir the user may rename things in
    parent.mkdir()
    (parent / "rt").mkdir(mode=0o700)
    os.chown(parent, user.uid, user.gid)
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "elsewhere")
    cases = [
        (owned, f"is owned by uid {user.uid}"),
        (writable, "writable by group or others"),
        (parent / "rt", f"its parent {parent} is owned by uid {user.uid}"),
        (link, "is a symbolic link"),
    ]
    for rt, why in cases:
        cli = Cli()
        cli.runtime = str(rt)
        one_line_error(cli("list", "programs", rc=None), "refusing to use", why)
        assert not os.path.exists(tmp_path / "elsewhere")
        assert not os.path.exists(os.path.join(rt, "fs"))  # nothing made, nothing mounted


# ---------------------------------------------------------------------- symlinks to a victim


def test_lock_and_db_are_never_followed(runtime, tmp_path) -> None:
    runtime("list", "programs")  # the runtime dir exists, root's
    target = tmp_path / "victim-file"
    target.write_text("keep\n")
    os.chmod(target, 0o644)
    lock = os.path.join(runtime.runtime, ".lock")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(lock)
    os.symlink(target, lock)
    one_line_error(runtime("gc", rc=None), "refusing to open", "symbolic link")
    os.unlink(lock)
    db = os.path.join(runtime.runtime, "db", "bpfman.db")
    for f in (db, db + "-wal", db + "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f)
    os.symlink(target, db)
    one_line_error(runtime("list", "programs", rc=None), "refusing to open", "symbolic link")
    assert target.read_text() == "keep\n" and mode(str(target)) == 0o644
    os.unlink(db)


def test_a_newer_database_schema_is_refused(runtime) -> None:
    runtime("list", "programs")
    db = sqlite3.connect(os.path.join(runtime.runtime, "db", "bpfman.db"))
    version = db.execute("PRAGMA user_version").fetchone()[0]
    db.execute("PRAGMA user_version=99")
    db.close()
    r = runtime("list", "programs", rc=None)
    one_line_error(r, f"schema 99 is newer than this bpfman ({version})")


def test_gc_leaves_planted_entries_alone(runtime, user, victim, veth, bpf_obj) -> None:
    """What a user could plant in a bpffs mounted 1777 (an older bpfman's): symlinks named
    like bpfman's pins to a victim directory and to another runtime's link, and directories
    under the next program ids. doctor names them; gc touches none of them nor their
    targets: the victim keeps its files, the other runtime's XDP program keeps running."""
    other = Cli()
    try:
        prog = other(
            "load", "file", "-p", bpf_obj("net"), "--programs", "xdp:xdp_pass", "-o", "json"
        ).json()[0]["kernel_info"]["id"]
        link = other("attach", str(prog), "xdp", "-i", veth.host, "-p", "50", "-o", "json").json()[
            "link_id"
        ]
        other_pin = os.path.join(other.fs, "links", str(link))
        assert os.path.exists(other_pin)

        runtime("list", "programs")
        fs = runtime.fs
        os.mkdir(f"{fs}/xdp")
        os.chmod(runtime.runtime, 0o755)  # as an older bpfman left them
        for d in (fs, f"{fs}/maps", f"{fs}/links", f"{fs}/xdp"):
            os.chmod(d, 0o1777)
        # what the user can plant there, and root-made symlinks (still not bpfman's)
        planted = {
            f"{fs}/xdp/dispatch-1-2": victim,
            f"{fs}/xdp/link-1-2": other_pin,
            f"{fs}/links/77": other_pin,
            f"{fs}/maps/88888": victim,
        }
        for path, target in planted.items():
            p = user.run("ln", "-s", target, path)
            assert p.returncode == 0, p.stderr
        for path in (f"{fs}/prog_99999", f"{fs}/maps/99999"):
            p = user.run("mkdir", path)
            assert p.returncode == 0, p.stderr
        os.symlink(victim, f"{fs}/prog_99998")  # root's symlink: not a pin either
        runtime("doctor", rc=1)  # first use after the upgrade (Manager): narrowed
        assert mode(runtime.runtime) == 0o700 and mode(fs) & 0o077 == 0
        assert user.run("mkdir", f"{fs}/prog_99997").returncode != 0

        report = runtime("doctor", rc=1).out
        for path in [*planted, f"{fs}/prog_99999", f"{fs}/prog_99998", f"{fs}/maps/99999"]:
            assert f"{path}: not made by bpfman" in report, report
        gc = runtime("gc")
        assert "Traceback" not in gc.err
        for path in [*planted, f"{fs}/prog_99999", f"{fs}/prog_99998", f"{fs}/maps/99999"]:
            assert os.path.lexists(path), f"gc removed {path}"
        runtime("gc")  # and again: no traceback, nothing done
        # the other runtime's program still runs, its link is intact
        before = other.counter(prog, XDP_PASS)
        assert veth.send(5, to="host") == 5
        assert other.counter(prog, XDP_PASS) == before + 5
        assert other("doctor").out.startswith("ok:")
        other("detach", str(link))
        other("unload", str(prog))
    finally:
        other.cleanup()


def test_paths_in_the_database_are_not_trusted(runtime, victim, bpf_obj) -> None:
    """A database row naming a victim as a program's maps dir or a link's pin: unload and
    detach work on the pins computed from the ids, the victim is untouched."""
    out = runtime(
        "load", "file", "-p", bpf_obj("basic"), "--programs", "tracepoint:count_kill", "-o", "json"
    ).json()[0]
    prog = out["kernel_info"]["id"]
    link = runtime(
        "attach", str(prog), "tracepoint", "-t", "syscalls/sys_enter_kill", "-o", "json"
    ).json()["link_id"]
    db = sqlite3.connect(os.path.join(runtime.runtime, "db", "bpfman.db"))
    db.execute("UPDATE programs SET map_pin_path = ?", (victim,))
    db.execute("UPDATE links SET pin_path = ?", (os.path.join(victim, "a"),))
    db.commit()
    db.close()
    shown = runtime("get", "program", str(prog), "-o", "json").json()
    assert shown["info"]["map_pin_path"] == os.path.join(runtime.fs, "maps", str(prog))
    runtime("detach", str(link))
    runtime("unload", str(prog))
    assert runtime.pins() == []


def test_socket_is_for_root_and_the_bpfman_group(runtime, user) -> None:
    import grp
    import shutil

    from support.daemon import Daemon

    sock = f"{runtime.runtime}-sock/bpfman.sock"  # its dir made by serve, in /run
    d = Daemon(runtime, sock).ready()
    try:
        try:
            gid: int | None = grp.getgrnam("bpfman").gr_gid
        except KeyError:
            gid = None
        sock_dir = os.path.dirname(sock)
        assert mode(sock_dir) == (0o750 if gid is not None else 0o700)
        assert mode(sock) == 0o660
        if gid is not None:
            assert os.stat(sock_dir).st_gid == gid and os.stat(sock).st_gid == gid
        connect = f"import socket; socket.socket(socket.AF_UNIX).connect({sock!r})"
        p = user.run("python3", "-c", connect)  # (the user is in no bpfman group)
        assert p.returncode != 0 and "PermissionError" in p.stderr, p.stderr
    finally:
        assert d.stop() == 0
        shutil.rmtree(os.path.dirname(sock), ignore_errors=True)


# ---------------------------------------------------------------------- registries


class _Steering:
    """A loopback HTTP "registry" that redirects every request, or challenges for a Bearer
    token at a realm, both on plain HTTP to a host that is not this machine."""

    def __init__(self, mode: str) -> None:
        import http.server
        import threading

        seen: list[str] = []
        self.seen = seen

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                seen.append(self.path)
                if mode == "redirect":
                    self.send_response(307)
                    self.send_header("Location", f"http://198.18.0.1:9{self.path}")
                else:
                    self.send_response(401)
                    self.send_header(
                        "WWW-Authenticate", 'Bearer realm="http://198.18.0.1:9/token",service="r"'
                    )
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize(
    ("mode", "why"),
    [("redirect", "refusing plain HTTP to 198.18.0.1"), ("realm", "plain HTTP token realm")],
)
def test_no_plain_http_beyond_this_machine(runtime, mode, why) -> None:
    """Image pulls: a registry redirecting to plain HTTP on another host, or naming a plain
    HTTP token realm there, is refused before anything (credentials included) is sent."""
    reg = _Steering(mode)
    try:
        auth = "dXNlcjpwYXNz"  # user:pass
        url = f"127.0.0.1:{reg.port}/org/prog:v1"
        r = runtime("image", "pull", "-i", url, "-r", auth, "-p", "Always", rc=None)
        one_line_error(r, why)
        assert reg.seen  # it did reach the loopback registry, then stopped
    finally:
        reg.close()
