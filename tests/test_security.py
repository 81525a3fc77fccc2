"""No local user can steer root's bpfman: a non-root user (``useradd``-ed here, driven with
``runuser``) against a root-owned runtime dir, and entries planted as an older bpfman (bpffs
mounted 1777) let any user plant them. Each test asserts that nothing outside bpfman's own
objects changed: a victim directory keeps its files, another runtime's link keeps running."""

from __future__ import annotations

import contextlib
import os
import pathlib
import shutil
import sqlite3
import stat
import subprocess
import tempfile
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
def reachable() -> Iterator[pathlib.Path]:
    """A root-owned dir in /tmp (0711) in which another user may reach what is made for them."""
    d = pathlib.Path(tempfile.mkdtemp(prefix="bpfman-test-"))
    os.chmod(d, 0o711)
    yield d
    shutil.rmtree(d, ignore_errors=True)


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


def test_symlinks_planted_by_a_user_are_never_followed(user, reachable, tmp_path, bpf_obj) -> None:
    """A runtime dir the user made before root's first use, with the lock, the database
    and the bpffs mount point planted as symlinks to root's files: every command refuses
    the dir in one line, and nothing is written, truncated or mounted through them."""
    base = reachable  # pytest's tmp dirs are root-only: the user could not reach one
    victim_file = tmp_path / "victim-file"
    victim_file.write_text("keep\n")
    victim_dir = tmp_path / "victim-dir"
    victim_dir.mkdir()
    rt = base / "rt"
    rt.mkdir(mode=0o700)  # the user's, as if made by them in a directory they can write
    os.chown(rt, user.uid, user.gid)
    for target, name in [
        (victim_file, ".lock"),
        (victim_dir, "db"),
        (victim_dir, "fs"),
        (victim_file, "bpfman.db"),
    ]:
        p = user.run("ln", "-s", str(target), str(rt / name))
        assert p.returncode == 0, p.stderr
    cli = Cli()
    cli.runtime = str(rt)
    for args in [
        ("list", "programs"),
        ("get", "program", "1"),
        ("doctor",),
        ("gc",),
        ("load", "file", "-p", bpf_obj("basic"), "--programs", "tracepoint:count_kill"),
    ]:
        r = cli(*args, rc=None)
        one_line_error(r, "refusing to use", f"is owned by uid {user.uid}")
    assert victim_file.read_text() == "keep\n" and mode(str(victim_file)) == 0o644
    assert os.listdir(victim_dir) == [] and not os.path.ismount(victim_dir)
    assert sorted(os.listdir(rt)) == [".lock", "bpfman.db", "db", "fs"]


def test_runtime_entries_replaced_by_symlinks_are_refused(runtime, tmp_path) -> None:
    """The bpffs mount point and the database dir as symlinks (root's runtime dir): refused
    before anything is mounted on, created in or removed from their targets."""
    runtime("list", "programs")
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "a").write_text("keep\n")
    subprocess.run(["umount", runtime.fs], check=True)
    os.rmdir(runtime.fs)
    os.symlink(victim, runtime.fs)
    for args in (("doctor",), ("gc",), ("unload", "1")):  # (list and get read no pins)
        one_line_error(runtime(*args, rc=None), f"refusing to use {runtime.fs}", "symbolic link")
    assert not os.path.ismount(victim) and os.listdir(victim) == ["a"]
    os.unlink(runtime.fs)
    db_dir = os.path.join(runtime.runtime, "db")
    shutil.rmtree(db_dir)
    os.symlink(victim, db_dir)
    for args in (("list", "programs"), ("doctor",), ("gc",)):
        one_line_error(runtime(*args, rc=None), f"refusing to use {db_dir}", "symbolic link")
    assert os.listdir(victim) == ["a"] and (victim / "a").read_text() == "keep\n"
    os.unlink(db_dir)


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
    """A database row naming a victim as a program's maps dir or a link's pin: unload,
    detach and gc's forgetting of a program whose pin is gone work on the pins computed
    from the ids, the victim is untouched."""
    out = runtime(
        "load", "file", "-p", bpf_obj("basic"), "--programs", "tracepoint:count_kill", "-o", "json"
    ).json()[0]
    prog = out["kernel_info"]["id"]
    gone = runtime.load(bpf_obj("basic"), "tracepoint:count_getppid").program_ids()[0]
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
    os.unlink(runtime.fs + f"/prog_{gone}")  # gc forgets the program and removes its maps
    assert f"forgot program {gone}" in runtime("gc").out
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


def test_socket_group_members_may_connect(runtime, user, monkeypatch) -> None:
    """With the socket group present (a fresh group stands in for ``bpfman``: the host's
    group database is not changed under other tests), the socket's directory is 0750 and
    the group's, the socket 0660 and the group's: a member connects, another user cannot."""
    import pwd
    from concurrent import futures

    import grpc

    from bpfman.server import daemon
    from bpfman.server.servicer import BpfmanServicer, add_to_server

    group = f"bpfg{os.getpid() % 100000}{uuid.uuid4().hex[:6]}"
    member = f"{user.name}m"
    _retry(["groupadd", group])
    server = None
    try:
        _retry(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", "-G", group, member])
        pw = pwd.getpwnam(member)
        monkeypatch.setattr(daemon, "SOCKET_GROUP", group)
        gid = daemon.socket_group()
        assert gid is not None
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
        add_to_server(BpfmanServicer(runtime.runtime, None), server)
        sock = f"{runtime.runtime}-sock/bpfman.sock"
        with daemon._own_socket(server, sock):
            server.start()
            sock_dir = os.path.dirname(sock)
            assert mode(sock_dir) == 0o750 and os.stat(sock_dir).st_gid == gid
            assert mode(sock) == 0o660 and os.stat(sock).st_gid == gid
            connect = f"import socket; socket.socket(socket.AF_UNIX).connect({sock!r})"
            p = User(member, pw.pw_uid, pw.pw_gid).run("python3", "-c", connect)
            assert p.returncode == 0, p.stderr
            p = user.run("python3", "-c", connect)
            assert p.returncode != 0 and "PermissionError" in p.stderr, p.stderr
    finally:
        if server is not None:
            server.stop(None)
        shutil.rmtree(f"{runtime.runtime}-sock", ignore_errors=True)
        with contextlib.suppress(AssertionError):
            _retry(["userdel", member])
        _retry(["groupdel", group])


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
