"""The CLI's start-up stays lean: which modules each command imports (not timed).

Every ``bpfman`` command is a fresh Python process, so each import it does not
need is paid on every call (four times in a load+attach+detach+unload cycle).
These tests run real commands against the real kernel and look at the
process's ``sys.modules`` when it exits, so a heavy import creeping into a
hot command fails here instead of only showing in bench/bench_cli.py.

They also check that the light kernel read behind the ``list programs`` table
(``views.kernel_brief_by_id``) shows the same rows as the full one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import pytest

import bpfman

# the console script's own code (pip's bin/bpfman), plus a dump of sys.modules at exit
ENTRY = """
import atexit, sys
out = sys.argv.pop(1)

def dump():
    with open(out, "w") as f:
        f.write("\\n".join(sorted(sys.modules)))

atexit.register(dump)
import re
from bpfman.cli.main import main
sys.argv[0] = "bpfman"
sys.exit(main())
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
    """Run ``bpfman --runtime-dir RT ARGS`` like the console script; (its modules, stdout)."""
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
    assert "bpfman.cli.main" in modules  # the dump ran
    return modules, p.stdout


def offending(modules: set[str], banned: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == b or m.startswith(b + ".") for b in banned))


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

                def pick(rows: list[dict]) -> list[dict]:
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
