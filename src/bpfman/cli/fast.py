"""The ``bpfman`` command's entry: a fast path for the read commands, else the click group.

A person at a shell runs ``bpfman list programs`` again and again, an agent
polls ``get program``: each is a fresh interpreter, and click's import alone
costs about the interpreter's own start-up. So ``main`` first matches the
command line against ``FAST``, the read commands' plain forms (their options
as ``bpfman.cli.manage`` defines them, ``--opt VALUE`` or ``--opt=VALUE``), and
answers those from ``bpfman.manager.readonly``: SQLite rows and kernel reads,
no click, no Manager. Anything else — another command, ``--help``, shell
completion, a filter option, a malformed value, a store not created or not
migrated yet, a program or link that is not found — goes to the click group
(``bpfman.cli.main``), which stays the one place for usage errors, help and
every other message (but an answer that cannot be written: ``write``). Reads
need no config, so ``--config`` is not read here. Once answered, the process
ends without the interpreter's teardown (``leave``).

Not argparse: its import (with ``re`` and ``gettext``) alone would take the
start-up past twice the interpreter's; the forms accepted here are few and
everything else is click's. tests/test_cli_startup.py checks ``FAST`` against
the click commands (same options, same kinds of value) and the output of
both paths against each other.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing's import costs start-up; mypy reads the name as True
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any

COMPLETE_VAR = "_BPFMAN_COMPLETE"  # set by the shell when it asks click for completions

# Option kinds: FLAG takes no value; CHOICE(...) one of the words; INT a number; TEXT any word.
FLAG = "flag"
INT = "int"
TEXT = "text"
OUTPUT = ("table", "json")

# the main group's options the fast path takes (--log other than the default: click's)
GLOBAL: dict[str, tuple[str, object]] = {
    "--runtime-dir": ("runtime_dir", TEXT),
    "--config": ("config", TEXT),
    "--log": ("log_level", ("warn",)),
}

# (group, command) -> (option -> (parameter, kind), positional parameters)
LIST_PROGRAMS: tuple[dict[str, tuple[str, object]], tuple[str, ...]] = (
    {
        "-a": ("show_all", FLAG),
        "--all": ("show_all", FLAG),
        "-o": ("output", OUTPUT),
        "--output": ("output", OUTPUT),
    },
    (),
)
FAST: dict[tuple[str, str], tuple[dict[str, tuple[str, object]], tuple[str, ...]]] = {
    ("list", "programs"): LIST_PROGRAMS,
    ("list", "program"): LIST_PROGRAMS,  # upstream's name (manage.AliasGroup)
    ("get", "program"): (
        {"-o": ("output", OUTPUT), "--output": ("output", OUTPUT)},
        ("program_id",),
    ),
}
# list links (its filters but --program-id are click's)
LIST_LINKS: tuple[dict[str, tuple[str, object]], tuple[str, ...]] = (
    {
        "--program-id": ("program_id", INT),
        "-o": ("output", OUTPUT),
        "--output": ("output", OUTPUT),
    },
    (),
)
FAST[("list", "links")] = FAST[("list", "link")] = LIST_LINKS
FAST[("get", "link")] = ({"-o": ("output", OUTPUT), "--output": ("output", OUTPUT)}, ("link_id",))


class Call:
    """One matched command line: the command, its parameters, the runtime root."""

    def __init__(self, command: tuple[str, str], params: dict[str, Any], root: str) -> None:
        self.command = command
        self.params = params
        self.root = root


def _value(kind: object, word: str) -> object:
    """*word* as a value of *kind*, or None when click would have to judge it."""
    if kind == INT:  # an id: ASCII digits ("١٢" is click's to refuse), a kernel u32
        return int(word) if word.isascii() and word.isdigit() and 0 < int(word) < 1 << 32 else None
    if isinstance(kind, tuple):
        return word if word in kind else None
    return word


def _options(
    args: Sequence[str], options: dict[str, tuple[str, object]], params: dict[str, Any]
) -> list[str] | None:
    """Consume *options* from *args* into *params*; the other words, or None to defer."""
    rest: list[str] = []
    i = 0
    while i < len(args):
        word = args[i]
        i += 1
        if not word.startswith("-") or word == "-":
            rest.append(word)
            continue
        name, eq, attached = word.partition("=")
        if name not in options:
            return None
        param, kind = options[name]
        if kind == FLAG:
            if eq:
                return None
            params[param] = True
            continue
        if not eq:
            if i >= len(args):
                return None
            attached = args[i]
            i += 1
        value = _value(kind, attached)
        if value is None:
            return None
        params[param] = value
    return rest


def parse(args: Sequence[str]) -> Call | None:
    """The fast-path call of command line *args*, or None for the click group."""
    params: dict[str, Any] = {}
    i = 0
    while i < len(args) and args[i].startswith("-"):  # the main group's options
        name, eq, _ = args[i].partition("=")
        if name not in GLOBAL:
            return None
        i += 1 if eq else 2
    head = _options(args[:i], GLOBAL, params)
    if head is None or head or len(args) < i + 2:
        return None
    command = (args[i], args[i + 1])
    if command not in FAST:
        return None
    root = params.pop("runtime_dir", None)
    params.clear()  # --config, --log warn: nothing for a read
    options, positional = FAST[command]
    words = _options(args[i + 2 :], options, params)
    if words is None or len(words) != len(positional):
        return None
    for name, word in zip(positional, words, strict=True):
        value = _value(INT, word)
        if value is None:
            return None
        params[name] = value
    from bpfman.errors import BpfError
    from bpfman.manager.paths import runtime_root

    try:
        return Call(command, params, runtime_root(root))
    except BpfError:
        return None  # (an empty --runtime-dir: click's path says so)


def _list_programs(db: Any, show_all: bool = False, output: str = "table") -> str | None:
    from bpfman.cli import output as out
    from bpfman.manager import readonly

    results = readonly.list_programs(db, show_all, brief=output != "json")
    if output == "json":
        return out.json_text([readonly.public(r) for r in results])
    return out.programs_table(results)


def _get_program(db: Any, program_id: int, output: str = "table") -> str | None:
    from bpfman.cli import output as out
    from bpfman.manager import readonly

    result = readonly.program_result(db, program_id)
    if result is None:
        return None  # not found: click's path says so
    if output == "json":
        return out.json_text(readonly.public(result))
    word, attachments = result.get("_type_word", ""), result.get("_attachments")
    return out.get_program_text(result.get("info"), result["kernel_info"], word, attachments)


def _list_links(db: Any, program_id: int | None = None, output: str = "table") -> str | None:
    from bpfman.cli import output as out
    from bpfman.manager import readonly

    if output == "json":
        return out.json_text(readonly.links_info(db, program_id))
    return out.table(out.LINK_HEADERS, readonly.links_table(db, program_id))


def _get_link(db: Any, link_id: int, output: str = "table") -> str | None:
    from bpfman.cli import output as out
    from bpfman.manager import readonly

    found = readonly.link_result(db, link_id)
    if found is None:
        return None  # not found: click's path says so
    link, kind, attach_fn = found
    if output == "json":
        return out.json_text(link)
    return out.get_link_text({**link, "_attach_fn": attach_fn}, kind)


RUN: dict[tuple[str, str], Callable[..., str | None]] = {
    ("get", "link"): _get_link,
    ("list", "links"): _list_links,
    ("list", "link"): _list_links,
    ("list", "programs"): _list_programs,
    ("list", "program"): _list_programs,
    ("get", "program"): _get_program,
}


def run(call: Call) -> str | None:
    """The output of *call*, or None when the click group must answer instead."""
    from bpfman.errors import BpfError
    from bpfman.manager import readonly

    try:
        db = readonly.connect(call.root)
        if db is None:
            return None
        try:
            return RUN[call.command](db, **call.params)
        finally:
            db.close()
    except (readonly.SQLiteError, OSError, BpfError):
        return None  # the click path reports it, with its exit code


def main(argv: Sequence[str] | None = None) -> int:
    """``bpfman ARGS``: the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if COMPLETE_VAR not in os.environ:
        call = parse(args)
        text = run(call) if call is not None else None
        if text is not None:
            status = write(text)
            if argv is None:  # the process's own command line (bin/bpfman): it is done
                leave(status)
            return status
    from bpfman.cli.main import main as group

    group.main(args=args, prog_name="bpfman")  # exits (standalone mode)
    return 0


def write(text: str) -> int:
    """Print the answer *text*: the exit status. 1 when it cannot be written: silently when
    the reader has gone (as click's path does for ``bpfman list programs | head -1``), else
    with a one-line error (``> /dev/full``)."""
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except OSError as e:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (nothing is flushed to it again)
        if not isinstance(e, BrokenPipeError):
            sys.stderr.write(f"Error: cannot write the output: {os.strerror(e.errno or 0)}\n")
        return 1
    return 0


def leave(status: int) -> None:
    """End the process at once with *status*, once the fast path has answered.

    The store is closed and the answer flushed; what the interpreter's own exit
    would still do is free every module and object one by one, which costs the
    read commands ~2-3 ms, a fifth of the bare interpreter's start-up
    (bench/README.md). Nothing is registered with ``atexit`` on this path.
    """
    sys.stderr.flush()
    os._exit(status)
