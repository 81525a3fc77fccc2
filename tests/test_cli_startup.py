"""The CLI's start-up stays lean: which modules each command imports (not timed).

Every ``bpfman`` command is a fresh Python process, so each import it does not
need is paid on every call (four times in a load+attach+detach+unload cycle).
These tests run real commands against the real kernel and look at the
process's ``sys.modules`` when it exits, so a heavy import creeping into a
hot command fails here instead of only showing in bench/bench_cli.py.

They also check that the light kernel read behind the ``list programs`` table
(``views.kernel_brief_by_id``) shows the same rows as the full one, and that the
read commands' fast path (``bpfman.cli.fast``: no click, no Manager) imports
almost nothing, takes the options the click commands define, and prints what
the click path prints.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from typing import Any

import pytest

import bpfman

# the console script's own code (pip's bin/bpfman), plus a dump of sys.modules at exit (the
# fast path ends with os._exit, which runs no atexit handler)
ENTRY = """
import atexit, os, sys
out = sys.argv.pop(1)

def dump():
    with open(out, "w") as f:
        f.write("\\n".join(sorted(sys.modules)))

def _exit(status, _exit=os._exit):
    dump()
    _exit(status)

atexit.register(dump)
os._exit = _exit
from bpfman.cli.fast import main
sys.argv[0] = "bpfman"
sys.exit(main())
"""

# bin/bpfman runs the click group the same way, forcing the slow path for comparisons
CLICK = """
import sys
from bpfman.cli.main import main
sys.argv[0] = "bpfman"
main()
"""

# never needed by the manager's everyday commands
HEAVY = (
    "grpc",
    "google.protobuf",
    "httpx",
    "httpcore",
    "cryptography",
    "pyroute2",
    "rich",
    "bpfman.images",
    "bpfman.server",
    "bpfman.dispatch",
    "bpfman.manager.dispatchers",
    "bpfman.manager.reconcile",
    "bpfman.cli.images",
    "bpfman.cli.serve",
)
# reading and parsing an ELF object: only `load` needs it
OBJECT_FILES = ("bpfman.object", "bpfman.elf", "bpfman.btf")


def imported(cli, *args: str) -> tuple[set[str], str]:
    """Run ``bpfman --runtime-dir RT ARGS`` like bin/bpfman; (its modules, stdout)."""
    with tempfile.NamedTemporaryFile("r", prefix="bpfman-modules-") as f:
        p = subprocess.run(
            [sys.executable, "-c", ENTRY, f.name, "--runtime-dir", cli.runtime, *args],
            capture_output=True,
            text=True,
            env=cli.env,
            timeout=60,
        )
        assert p.returncode == 0, f"bpfman {' '.join(args)} -> {p.returncode}\n{p.stderr}"
        modules = set(f.read().split())
    assert "bpfman.cli.fast" in modules  # the dump ran
    return modules, p.stdout


# pure data under a banned package that any command may read: the lazy package itself and the
# --proceed-on words (the parser's), not the dispatcher machinery
LIGHT = {"bpfman.dispatch", "bpfman.dispatch.verdicts"}


def offending(modules: set[str], banned: tuple[str, ...]) -> list[str]:
    return sorted(
        m for m in modules - LIGHT if any(m == b or m.startswith(b + ".") for b in banned)
    )


def test_hot_commands_import_nothing_heavy(cli, bpf_obj) -> None:
    cli("list", "programs")  # creates the runtime dir (mounting its bpffs is not measured)

    mods, out = imported(
        cli, "load", "file", "-p", bpf_obj("basic"), "--programs", "tracepoint:count_kill",
        "-o", "json",
    )  # fmt: skip
    prog_id = json.loads(out)[0]["kernel_info"]["id"]
    try:
        assert offending(mods, HEAVY) == [], "load file"

        mods, out = imported(
            cli, "attach", str(prog_id), "tracepoint", "-t", "syscalls/sys_enter_kill", "-o", "json"
        )
        link_id = json.loads(out)["link_id"]
        assert offending(mods, HEAVY + OBJECT_FILES) == [], "attach tracepoint"

        mods, out = imported(cli, "list", "programs")
        assert f" {prog_id} " in out
        # the table needs neither the Program class nor map ids, load times or /proc reads
        banned = HEAVY + OBJECT_FILES + ("bpfman.program", "bpfman.link", "bpfman.attach")
        assert offending(mods, banned) == [], "list programs"

        mods, _ = imported(cli, "list", "programs", "-o", "json")
        assert offending(mods, HEAVY + OBJECT_FILES) == [], "list programs -o json"

        mods, out = imported(cli, "get", "program", str(prog_id))
        assert "Kernel State" in out
        assert offending(mods, HEAVY + OBJECT_FILES) == [], "get program"

        mods, _ = imported(cli, "get", "link", str(link_id))
        assert offending(mods, HEAVY + OBJECT_FILES + ("bpfman.program",)) == [], "get link"

        mods, _ = imported(cli, "detach", str(link_id))
        assert offending(mods, HEAVY + OBJECT_FILES + ("tomllib", "shutil")) == [], "detach"
    finally:
        cli("unload", str(prog_id))


def test_lazy_command_groups_still_listed(cli) -> None:
    """``image`` and ``serve`` are imported only when run, yet still in the help."""
    mods, out = imported(cli, "--help")
    words = {line.split()[0] for line in out.split("Commands:")[1].splitlines() if line.strip()}
    assert {"image", "serve", "list", "load", "probe", "gen", "compile"} <= words
    mods, out = imported(cli, "image", "--help")
    assert "generate-build-args" in out
    assert offending(mods, ("bpfman.images", "bpfman.server", "httpx", "cryptography")) == []
    mods, out = imported(cli, "gen", "python", "--help")
    assert "--object-path" in out
    assert offending(mods, (*HEAVY, *OBJECT_FILES, "bpfman.manager", "bpfman.cli.manage")) == []
    mods, out = imported(cli, "compile", "--help")
    assert "--vmlinux" in out
    banned = (*HEAVY, *OBJECT_FILES, "bpfman.manager", "bpfman.cli.manage", "bpfman.compiler")
    assert offending(mods, banned) == []


def row_words(table: str, prog_id: int) -> list[str]:
    (line,) = [ln for ln in table.splitlines() if ln.split()[:1] == [str(prog_id)]]
    return line.split()


def test_list_table_brief_read_matches_full_read(cli, bpf_obj) -> None:
    from bpfman.kinds import ProgramType
    from bpfman.manager import query, views
    from bpfman.manager.core import Manager

    loaded = cli(
        "load", "file", "-p", bpf_obj("basic"), "--programs", "tracepoint:count_kill",
        "-a", "startupapp", "-o", "json",
    ).json()  # fmt: skip
    prog_id = loaded[0]["kernel_info"]["id"]
    link_id = cli(
        "attach", str(prog_id), "tracepoint", "-t", "syscalls/sys_enter_kill", "-o", "json"
    ).json()["link_id"]
    try:
        with bpfman.load(bpf_obj("basic")) as obj:
            foreign = obj.programs["count_getppid"].id  # not bpfman's: only in --all

            for pid in (prog_id, foreign):
                brief, full = views.kernel_brief_by_id(pid), views.kernel_info_by_id(pid)
                assert brief is not None and full is not None
                assert brief == {k: full[k] for k in brief}
                assert set(brief) == {"id", "name", "program_type", "tag"}
            assert views.kernel_brief_by_id(2**31 - 1) is None

            with Manager(cli.runtime) as mgr:
                ours = {prog_id, foreign}
                brief_rows = query.list_programs(mgr, True, None, {}, brief=True)
                full_rows = query.list_programs(mgr, True, None, {})

                def pick(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
                    return [r for r in rows if r["kernel_info"]["id"] in ours]

                assert [r.get("info") for r in pick(brief_rows)] == [
                    r.get("info") for r in pick(full_rows)
                ]

            everything = cli("list", "programs", "--all").out
            assert row_words(everything, prog_id) == [
                str(prog_id), "startupapp", "tracepoint", "count_kill", "(1)", str(link_id)
            ]  # fmt: skip
            assert row_words(everything, foreign) == [str(foreign), "tracepoint", "count_getppid"]
            assert str(foreign) not in cli("list", "programs").out.split()

            by_number = cli("list", "programs", "--all", "--program-type", "5").out
            assert int(ProgramType.TRACEPOINT) == 5
            assert row_words(by_number, prog_id)[0] == str(prog_id)
            assert row_words(by_number, foreign)[0] == str(foreign)
            assert str(prog_id) not in cli("list", "programs", "--program-type", "6").out.split()
    finally:
        cli("unload", str(prog_id))


def listed_ids(cli, output: str) -> list[int]:
    out = cli("list", "programs", "-o", output).out
    if output == "json":
        return [r["kernel_info"]["id"] for r in json.loads(out)]
    return [int(line.split()[0]) for line in out.splitlines()[1:]]


@pytest.mark.parametrize("output", ["table", "json"])
def test_list_programs_of_a_reused_id_is_skipped(cli, bpf_obj, output: str) -> None:
    """A stored program whose kernel id now holds another program (tag differs) is not listed,
    by the brief (table) read as by the full one."""
    import sqlite3

    prog_id = cli(
        "load", "file", "-p", bpf_obj("basic"), "--programs", "tracepoint:count_kill", "-o", "json"
    ).json()[0]["kernel_info"]["id"]
    db = sqlite3.connect(os.path.join(cli.runtime, "db", "bpfman.db"))
    try:
        (tag,) = db.execute("SELECT tag FROM programs WHERE id = ?", (prog_id,)).fetchone()
        with db:
            db.execute("UPDATE programs SET tag = ? WHERE id = ?", ("00" * 8, prog_id))
        assert prog_id not in listed_ids(cli, output)
        with db:
            db.execute("UPDATE programs SET tag = ? WHERE id = ?", (tag, prog_id))
        assert prog_id in listed_ids(cli, output)
    finally:
        db.close()
        cli("unload", str(prog_id))


# ------------------------------------------------------------------ the read commands' fast path

# what the fast path leaves out (each costs a good part of the interpreter's own start-up)
NOT_FAST = (
    "click", "typing", "dataclasses", "inspect", "logging", "re", "json", "enum", "datetime",
    "sqlite3", "importlib", "bpfman.kinds",
    "bpfman._libbpf", "bpfman.manager.core", "bpfman.manager.store", "bpfman.manager.models",
    "bpfman.manager.query", "bpfman.manager.views", "bpfman.cli.main", "bpfman.cli.manage",
)  # fmt: skip


# -o json: json's import brings re and enum
NOT_JSON = tuple(m for m in NOT_FAST if m not in ("json", "re", "enum"))


def click_path(cli, *args: str, rc: int = 0) -> str:
    """stdout of ``bpfman --runtime-dir RT ARGS`` through the click group (no fast path)."""
    p = subprocess.run(
        [sys.executable, "-c", CLICK, "--runtime-dir", cli.runtime, *args],
        capture_output=True, text=True, env=cli.env, timeout=60,
    )  # fmt: skip
    assert p.returncode == rc, f"{args} -> {p.returncode}\n{p.stderr}"
    return p.stdout


def test_fast_path_imports(cli, bpf_obj) -> None:
    cli("list", "programs")  # creates the store: the fast path only reads one
    mods, out = imported(cli, "list", "programs")
    assert out.split() == ["Program", "ID", "Application", "Type", "Function", "Name", "Links"]
    assert offending(mods, (*NOT_FAST, "ctypes", "bpfman._sys")) == [], "nothing loaded"

    prog_id = cli(
        "load", "file", "-p", bpf_obj("basic"), "--programs", "tracepoint:count_kill", "-o", "json"
    ).json()[0]["kernel_info"]["id"]
    try:
        mods, out = imported(cli, "list", "programs")
        assert f" {prog_id} " in out
        assert offending(mods, NOT_FAST) == [], "list programs"
        mods, out = imported(cli, "--config", "/nonexistent.toml", "list", "programs", "--all")
        assert f" {prog_id} " in out
        # other programs show their kernel type's name (readonly's table, not kinds' enum)
        assert offending(mods, NOT_FAST) == [], "--all"
        link = cli(
            "attach", str(prog_id), "tracepoint", "-t", "syscalls/sys_enter_kill", "-o", "json"
        ).json()["link_id"]
        mods, out = imported(cli, "list", "links")
        row = out.splitlines()[1].split()
        assert row == [
            str(prog_id),
            str(link),
            "tracepoint",
            "count_kill",
            "syscalls/sys_enter_kill",
        ]
        assert offending(mods, NOT_FAST) == [], "list links"
        mods, out = imported(cli, "get", "link", str(link))
        assert "syscalls/sys_enter_kill" in out
        assert offending(mods, NOT_FAST) == [], "get link"
        mods, out = imported(cli, "get", "program", str(prog_id))
        assert "Kernel State" in out
        assert offending(mods, NOT_FAST) == [], "get program"
        mods, out = imported(cli, "list", "programs", "-o", "json")
        assert json.loads(out)[0]["kernel_info"]["id"] == prog_id
        assert offending(mods, NOT_JSON) == [], "list programs -o json"
        # what the fast path leaves to click: filters, help, usage errors
        mods, out = imported(cli, "list", "programs", "--program-type", "tracepoint")
        assert f" {prog_id} " in out and "click" in mods
    finally:
        cli("unload", str(prog_id))


def test_fast_table_matches_click_commands() -> None:
    """Every option of ``fast.FAST``/``GLOBAL`` is the click command's, with the same
    parameter name and kind of value; positional arguments too."""
    import click

    from bpfman.cli import fast, manage
    from bpfman.cli.main import main

    def check(cmd: click.Command, options: dict[str, Any], positional: tuple[str, ...]) -> None:
        by_opt = {o: p for p in cmd.params if isinstance(p, click.Option) for o in p.opts}
        for name, (param, kind) in options.items():
            opt = by_opt[name]
            assert opt.name == param and not opt.multiple, (cmd.name, name)
            if kind == fast.FLAG:
                assert opt.is_flag, name
            elif isinstance(kind, tuple):
                assert isinstance(opt.type, click.Choice), name
                assert set(kind) <= set(opt.type.choices), name
            else:
                ids = (manage.PROGRAM_ID, manage.LINK_ID)  # ASCII ids in range (issue 8)
                assert opt.type in {fast.INT: ids, fast.TEXT: (click.STRING,)}[kind], name
        args = [p for p in cmd.params if isinstance(p, click.Argument)]
        assert [a.name for a in args] == list(positional), cmd.name
        assert all(a.type in (manage.PROGRAM_ID, manage.LINK_ID) for a in args), cmd.name

    ctx = click.Context(main)
    check(main, fast.GLOBAL, ())
    for (group, name), (options, positional) in fast.FAST.items():
        grp = main.get_command(ctx, group)
        assert isinstance(grp, click.Group)
        cmd = grp.get_command(ctx, name)
        assert cmd is not None, (group, name)
        check(cmd, options, positional)


@pytest.mark.parametrize(
    "args, fast_path",
    [
        (["list", "programs"], True),
        (["--runtime-dir=X", "list", "programs", "--all", "-o", "json"], True),
        (["--log", "warn", "get", "program", "7", "--output=json"], True),
        (["get", "program", "-o", "table", "7"], True),
        (["list", "program", "-a"], True),
        (["list", "links", "--program-id", "3"], True),
        (["list", "links", "-o", "json"], True),
        (["list", "links", "--program-type", "xdp"], False),
        (["get", "link", "4", "-o", "json"], True),
        (["list", "programs", "--help"], False),
        (["--log", "debug", "list", "programs"], False),
        (["list", "programs", "-o", "xml"], False),
        (["list", "programs", "-ojson"], False),
        (["list", "programs", "--all=1"], False),
        (["list", "programs", "--program-type", "xdp"], False),
        (["get", "program"], False),
        (["get", "program", "x7"], False),
        (["get", "program", "7", "8"], False),
        (["get", "program", "7", "-o"], False),
        (["--version"], False),
        (["list"], False),
        (["load", "file", "-p", "x.o", "--programs", "xdp:p"], False),
    ],
)
def test_fast_path_takes_only_plain_forms(args: list[str], fast_path: bool) -> None:
    from bpfman.cli import fast

    call = fast.parse(args)
    assert (call is not None) == fast_path
    if call is not None and args[0].startswith("--runtime-dir"):
        assert call.root == "X"


def test_fast_path_prints_what_click_prints(cli, bpf_obj) -> None:
    """Same state, same command line: the fast path's output is the click path's, for
    programs with and without metadata, globals, links and a map owner, and a foreign one;
    and with nothing loaded."""
    cli("list", "programs")  # creates the store (the fast path only reads one)
    for empty in (
        ("list", "programs"), ("list", "links"), ("list", "programs", "-o", "json"),
        ("list", "links", "-o", "json"),
    ):  # fmt: skip
        assert cli(*empty).out == click_path(cli, *empty), empty
    first = cli(
        "load", "file", "-p", bpf_obj("basic"), "--programs", "tracepoint:count_kill",
        "-g", "target_pid=01000000", "-m", "owner=tests", "-a", "fastapp", "-o", "json",
    ).json()[0]["kernel_info"]["id"]  # fmt: skip
    second = cli(
        "load", "file", "-p", bpf_obj("basic"), "--programs", "tracepoint:count_getppid",
        "--map-owner-id", str(first), "-o", "json",
    ).json()[0]["kernel_info"]["id"]  # fmt: skip
    link = cli("attach", str(first), "tracepoint", "-t", "syscalls/sys_enter_kill", "-o", "json")
    cli("attach", str(first), "tracepoint", "-t", "syscalls/sys_enter_getppid")  # two Links rows
    try:
        with bpfman.load(bpf_obj("basic")) as obj:
            foreign = obj.programs["count_getppid"].id

            def same(*args: str) -> None:
                fast_out = cli(*args).out
                slow_out = click_path(cli, *args)
                if "json" in args and args[1].startswith("link"):  # byte for byte
                    assert fast_out == slow_out, args
                elif "json" in args:
                    fast_v, slow_v = json.loads(fast_out), json.loads(slow_out)
                    for v in fast_v if isinstance(fast_v, list) else [fast_v]:
                        assert v["kernel_info"].pop("loaded_at")  # read twice: may tick
                    for v in slow_v if isinstance(slow_v, list) else [slow_v]:
                        v["kernel_info"].pop("loaded_at")
                    assert fast_v == slow_v, args
                else:
                    drop = ("Loaded At:",)
                    keep = [ln for ln in fast_out.splitlines() if not ln.strip().startswith(drop)]
                    assert keep == [
                        ln for ln in slow_out.splitlines() if not ln.strip().startswith(drop)
                    ], args

            for args in (
                ("list", "programs"),
                ("list", "programs", "-o", "json"),
                ("get", "program", str(first)),
                ("get", "program", str(second)),
                ("get", "program", str(second), "-o", "json"),
                ("get", "program", str(first), "-o", "json"),
                ("get", "program", str(foreign)),
                ("get", "program", str(foreign), "-o", "json"),
                ("list", "links"),
                ("list", "links", "-o", "json"),
                ("list", "links", "--program-id", str(first), "-o", "json"),
                ("list", "link", "--program-id", str(first)),
                ("list", "links", "--program-id", str(second)),
                ("get", "link", str(link.json()["link_id"])),
                ("get", "link", str(link.json()["link_id"]), "-o", "json"),
            ):
                same(*args)
            everything = cli("list", "programs", "--all").out.splitlines()[1:]
            assert {str(first), str(second), str(foreign)} <= {ln.split()[0] for ln in everything}
            fast_json = cli("get", "program", str(first), "-o", "json").json()
            assert fast_json["info"]["links"][0] == link.json()["link_id"]
            assert len(fast_json["info"]["links"]) == 2
            assert fast_json["info"]["map_used_by"] == [str(first), str(second)]
            assert fast_json["info"]["global_data"] == {"target_pid": "AQAAAA=="}
    finally:
        cli("unload", str(second))
        cli("unload", str(first))


def test_fast_path_network_links(cli, bpf_obj, veth) -> None:
    """xdp and tc links (Proceed On, direction, priority) and a tcx one: ``get link``, ``list
    links`` and ``get program`` print what click's path prints, importing nothing of NOT_FAST
    nor of the dispatcher machinery (Proceed On's words are ``bpfman.dispatch.verdicts``)."""
    out = cli(
        "load", "file", "-p", bpf_obj("net"), "--programs",
        "xdp:xdp_pass tc:tc_ingress tcx:tc_egress", "-o", "json",
    ).json()  # fmt: skip
    xdp, tc, tcx = (p["kernel_info"]["id"] for p in out)
    try:
        links = [
            cli("attach", str(xdp), "xdp", "-i", veth.host, "-p", "50", "-o", "json"),
            cli("attach", str(tc), "tc", "-d", "ingress", "-i", veth.host, "-p", "10",
                "--proceed-on", "ok", "--proceed-on", "shot", "-o", "json"),
            cli("attach", str(tcx), "tcx", "-d", "egress", "-i", veth.host, "-p", "5",
                "-o", "json"),
        ]  # fmt: skip
        ids = [str(r.json()["link_id"]) for r in links]
        commands = [("get", "link", i) for i in ids] + [
            ("get", "link", ids[1], "-o", "json"),
            ("list", "links"),
            ("list", "links", "-o", "json"),
            ("list", "links", "--program-id", str(tc)),
        ]
        for args in commands:
            mods, fast_out = imported(cli, *args)
            banned = NOT_JSON if "json" in args else NOT_FAST
            assert offending(mods, (*banned, *HEAVY)) == [], args
            assert fast_out == click_path(cli, *args), args
        text = cli("get", "link", ids[1]).out
        assert ["Proceed", "On:", "ok,", "shot"] in [ln.split() for ln in text.splitlines()]
        text = cli("get", "link", ids[0]).out
        assert ["Proceed", "On:", "pass,", "dispatcher_return"] in [
            ln.split() for ln in text.splitlines()
        ]
    finally:
        for prog in (xdp, tc, tcx):
            cli("unload", str(prog))


def test_fast_path_output_unwritable(cli) -> None:
    """``bpfman list programs | head -1`` with the reader gone before the answer: status 1 and
    nothing on stderr (no traceback), by the fast path as by click's; a full disk: one line."""
    cli("list", "programs")

    def closed_pipe(*argv: str) -> subprocess.CompletedProcess[str]:
        r, w = os.pipe()
        os.close(r)
        try:
            return subprocess.run(argv, stdout=w, stderr=subprocess.PIPE, text=True,
                                  env=cli.env, timeout=60)  # fmt: skip
        finally:
            os.close(w)

    from support.cli import BPFMAN

    for path in (
        [BPFMAN, "--runtime-dir", cli.runtime, "list", "programs"],
        [sys.executable, "-c", CLICK, "--runtime-dir", cli.runtime, "list", "programs"],
    ):
        p = closed_pipe(*path)
        assert (p.returncode, p.stderr) == (1, ""), path
    with open("/dev/full", "w") as full:  # a write that fails otherwise: one line, status 1
        p = subprocess.run([BPFMAN, "--runtime-dir", cli.runtime, "list", "programs"],
                           stdout=full, stderr=subprocess.PIPE, text=True, env=cli.env,
                           timeout=60)  # fmt: skip
    assert p.returncode == 1
    assert p.stderr == "Error: cannot write the output: No space left on device\n"


def test_fast_path_leaves_errors_to_click(cli, bpf_obj, tmp_path) -> None:
    """Not found, a store not there yet or of another schema version: the click path
    answers (creating or migrating the store), with its message and exit code."""
    r = cli("get", "program", str(2**31 - 1), rc=1)
    assert r.err.startswith("Error: no program with id") and r.out == ""
    r = cli("get", "link", str(2**31 - 1), rc=1)
    assert r.err.startswith("Error: no link with id") and r.out == ""
    assert os.path.exists(os.path.join(cli.runtime, "db", "bpfman.db"))  # click made it

    r = cli("list", "programs", "-o", "xml", rc=2)
    assert "Invalid value for '-o' / '--output'" in r.err

    import sqlite3

    from bpfman.manager import readonly, store

    assert len(store.MIGRATIONS) == readonly.SCHEMA_VERSION
    db = sqlite3.connect(os.path.join(cli.runtime, "db", "bpfman.db"))
    try:
        db.execute("PRAGMA user_version = 99")  # a newer schema: not the fast path's to read
        db.commit()
        assert readonly.connect(cli.runtime) is None
        r = cli("list", "programs", rc=1)  # nor the Store's to use (issue 8)
        assert "schema 99 is newer than this bpfman" in r.err
        db.execute(f"PRAGMA user_version = {len(store.MIGRATIONS)}")
        db.commit()
        assert readonly.connect(cli.runtime) is not None
    finally:
        db.close()

    fresh = os.path.join(str(tmp_path), "rt")
    assert readonly.connect(fresh) is None


def test_fast_path_kernel_type_words_are_kinds() -> None:
    """readonly's plain table gives kinds.kernel_type_word's word for every kernel program type
    (a type added to kinds.ProgramType fails here until the table has it) and beyond."""
    from bpfman.kinds import ProgramType, kernel_type_word
    from bpfman.manager import readonly

    assert len(readonly.KERNEL_TYPE_WORDS) == len(ProgramType)
    for value in [*range(-1, max(ProgramType) + 3), 2**32 - 1]:
        assert readonly.kernel_type_word(value) == kernel_type_word(value), value


def test_fast_path_type_words_are_the_models() -> None:
    from bpfman.manager import models, readonly, typetable

    for word, (number, retprobe) in typetable.LOAD_WORDS.items():
        assert readonly.type_word(number, retprobe) == word
        assert models.type_name(models.BpfmanType(number), retprobe) == word


def test_shell_completion_is_clicks(cli) -> None:
    """With click's completion variable set, even a fast command line goes to click."""
    env = dict(cli.env, _BPFMAN_COMPLETE="bash_complete", COMP_WORDS="bpfman list pro",
               COMP_CWORD="2")  # fmt: skip
    r = cli("list", "pro", env=env)
    assert "programs" in r.out


def test_attachment_column_of_each_kind() -> None:
    from bpfman.manager import readonly
    from bpfman.manager.models import BpfmanType

    net: dict[str, object] = {"iface": "eth0", "position": 2, "priority": 50, "proceed_on": [2]}
    cases: list[tuple[BpfmanType, dict[str, object], str]] = [
        (BpfmanType.XDP, net, "eth0 pos-2"),
        (BpfmanType.TC, {**net, "direction": "ingress"}, "eth0 ingress pos-2"),
        (BpfmanType.TCX, {"iface": "lo", "direction": "egress"}, "lo egress pos-0"),
        (BpfmanType.TRACEPOINT, {"tracepoint": "syscalls/sys_enter_kill"}, "syscalls/..."),
        (BpfmanType.KPROBE, {"fn_name": "do_sys_open", "offset": 0}, "do_sys_open"),
        (BpfmanType.UPROBE, {"target": "/lib/c.so", "fn_name": "malloc"}, "/lib/c.so malloc"),
        (BpfmanType.UPROBE, {"target": "x", "fn_name": None, "offset": 16}, "x"),
        (BpfmanType.FENTRY, {}, ""),
    ]  # fmt: skip
    for kind, params, shown in cases:
        got = readonly.attachment(int(kind), params)
        assert got == shown or (shown.endswith("...") and got.startswith(shown[:-3])), kind
