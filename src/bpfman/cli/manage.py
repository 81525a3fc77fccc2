"""The manager's commands: load, attach, detach, unload, list, get, doctor, gc.

Flags follow bpfman's CLI (../shared/spec/cli.md). Exit codes: 0 ok,
1 the operation failed (bad values included, as upstream), 2 a command-line syntax
error (click's, and options that cannot go together).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from bpfman.manager.models import BpfmanType

F = TypeVar("F", bound=Callable[..., Any])

class Number(click.ParamType[int]):
    """An integer in ASCII digits (``int()`` also takes "١٢"), within ``[low, high]``: a
    usage error (exit 2) rather than an overflow deep inside."""

    name = "integer"

    def __init__(self, low: int, high: int) -> None:
        self.low, self.high = low, high

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        text = str(value)
        digits = text[1:] if text.startswith("-") else text
        if not (digits.isascii() and digits.isdigit()) or not (
            self.low <= int(text) <= self.high
        ):
            self.fail(f"{text[:40]!r}: give a number from {self.low} to {self.high}", param, ctx)
        return int(text)


PROGRAM_ID = Number(1, (1 << 32) - 1)  # kernel ids are u32
LINK_ID = Number(1, (1 << 63) - 1)  # bpfman's own, a SQLite integer
INT = Number(-(1 << 63), (1 << 63) - 1)

OUTPUT = click.option(
    "-o", "--output", type=click.Choice(["table", "json"]), default="table", help="output format"
)


class Ctx:
    """Global options shared by every command (set by the main group)."""

    def __init__(self, runtime_dir: str | None, config: str | None) -> None:
        self.runtime_dir = runtime_dir
        self.config = config
        self._manager: Any = None

    def manager(self) -> Any:
        if self._manager is None:
            from bpfman.manager.core import Manager

            self._manager = Manager(self.runtime_dir, config_path=self.config)
        return self._manager


def fail(message: str, code: int) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


def handled(fn: F) -> F:
    """Turn the library's and manager's errors into one line and the right exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from bpfman.errors import BpfError, InputError, UsageError

        try:
            return fn(*args, **kwargs)
        except UsageError as e:
            fail(str(e), 2)
        except InputError as e:
            fail(str(e), 1)
        except BpfError as e:  # the root of every library, manager and image error
            fail(str(e), 1)
        except Exception as e:
            import sqlite3  # (imported already by every command that reaches the database)

            if not isinstance(e, sqlite3.Error):
                raise
            fail(f"database: {e}", 1)

    return wrapper  # type: ignore[return-value]


def ctx_obj() -> Ctx:
    obj = click.get_current_context().find_root().obj
    if not isinstance(obj, Ctx):
        obj = Ctx(None, None)
        click.get_current_context().find_root().obj = obj
    return obj


# ---------------------------------------------------------------------- load


@click.group("load", help="Load eBPF programs (no attach).")
def load_group() -> None:
    pass


class GreedyOption(click.Option):
    """An option taking every following word up to the next option, as upstream's clap
    ``num_args(1..)`` (``--programs a b c``, ``-g A=01 B=02``); it may also be repeated.
    Each word is one value of the (``multiple``) option."""

    def add_to_parser(self, parser: Any, ctx: click.Context) -> None:
        super().add_to_parser(parser, ctx)
        for name in self.opts:
            opt = parser._long_opt.get(name) or parser._short_opt.get(name)
            if opt is None:
                continue
            original = opt.process

            def process(value: Any, state: Any, original: Any = original) -> None:
                original(value, state)
                while state.rargs and not state.rargs[0].startswith("-"):
                    original(state.rargs.pop(0), state)

            opt.process = process


def many(*decls: str, **kwargs: Any) -> Callable[[F], F]:
    """An option of several values: ``-m k=v k2=v2`` as well as ``-m k=v -m k2=v2``."""
    return click.option(*decls, cls=GreedyOption, multiple=True, **kwargs)


def _load_common(fn: F) -> F:
    for opt in reversed(
        [
            many("--programs", "programs", required=True, help="TYPE:NAME[:ATTACH] ..."),
            many("-g", "--global", "globals_", help="NAME=HEX ... (hex bytes, no 0x)"),
            many("-m", "--metadata", help="KEY=VALUE ..."),
            click.option("-a", "--application", default=None),
            click.option("--map-owner-id", type=PROGRAM_ID, default=None),
            OUTPUT,
        ]
    ):
        fn = opt(fn)
    return fn


@load_group.command("file", help="Load programs from a local object file.")
@click.option("-p", "--path", required=True, help="path of the eBPF object file")
@_load_common
@handled
def load_file(
    path: str,
    programs: tuple[str, ...],
    globals_: tuple[str, ...],
    metadata: tuple[str, ...],
    application: str | None,
    map_owner_id: int | None,
    output: str,
) -> None:
    spec = _load_spec(programs, globals_, metadata, application, map_owner_id)
    spec.path = path
    mgr = ctx_obj().manager()
    records = mgr.load(spec)
    _print_programs(mgr, [r.id for r in records], output, as_load=True)


@load_group.command("image", help="Load programs from an OCI image (pulled into the cache).")
@click.option("-i", "--image-url", required=True, help="image reference, e.g. quay.io/org/prog:v1")
@click.option("-r", "--registry-auth", default=None, help="BASE64(USER:PASSWORD)")
@click.option("-p", "--pull-policy", default="IfNotPresent", help="Always|IfNotPresent|Never")
@_load_common
@handled
def load_image(
    image_url: str,
    registry_auth: str | None,
    pull_policy: str,
    programs: tuple[str, ...],
    globals_: tuple[str, ...],
    metadata: tuple[str, ...],
    application: str | None,
    map_owner_id: int | None,
    output: str,
) -> None:
    from bpfman import images
    from bpfman.manager.images import prepare_load

    spec = _load_spec(programs, globals_, metadata, application, map_owner_id)
    spec.image_url, spec.pull_policy = image_url, images.PullPolicy.parse(pull_policy).word
    mgr = ctx_obj().manager()
    ready, _ = prepare_load(mgr, spec, images.Credentials.from_base64(registry_auth))
    records = mgr.load(ready)
    _print_programs(mgr, [r.id for r in records], output, as_load=True)


def _load_spec(
    programs: tuple[str, ...],
    globals_: tuple[str, ...],
    metadata: tuple[str, ...],
    application: str | None,
    map_owner_id: int | None,
) -> Any:
    """The LoadSpec of the flags ``load file`` and ``load image`` share (no bytecode yet)."""
    from bpfman.manager import parse
    from bpfman.manager.core import LoadSpec

    meta = parse.metadata(list(metadata))
    if application:
        meta["bpfman_application"] = application
    return LoadSpec(
        requests=parse.program_requests(list(programs)),
        globals=parse.global_data(list(globals_)),
        metadata=meta,
        map_owner_id=map_owner_id,
    )


# ---------------------------------------------------------------------- attach


@click.group("attach", help="Attach a loaded program: bpfman attach PROGRAM_ID TYPE ...")
@click.argument("program_id", type=PROGRAM_ID)
@click.pass_context
def attach_group(ctx: click.Context, program_id: int) -> None:
    ctx.meta["program_id"] = program_id


def _attach(
    kind: BpfmanType, params: dict[str, Any], metadata: tuple[str, ...], output: str
) -> None:
    from bpfman.manager import parse, views
    from bpfman.manager.core import AttachSpec

    prog_id = click.get_current_context().meta["program_id"]
    mgr = ctx_obj().manager()
    link = mgr.attach(prog_id, AttachSpec(kind, params, parse.metadata(list(metadata))))
    _print_link(mgr, views.link_info(mgr, link), link.kind, output)


META = many("-m", "--metadata", help="KEY=VALUE ...")
PROCEED_ON = many("--proceed-on", "proceed_on", help="verdicts on which the chain goes on ...")
NETNS = click.option("-n", "--netns", default=None, help="network namespace path")


@attach_group.command("xdp")
@click.option("-i", "--iface", required=True)
@click.option("-p", "--priority", type=INT, required=True)
@PROCEED_ON
@NETNS
@META
@OUTPUT
@handled
def attach_xdp(
    iface: str,
    priority: int,
    proceed_on: tuple[str, ...],
    netns: str | None,
    metadata: tuple[str, ...],
    output: str,
) -> None:
    params = {"iface": iface, "priority": priority, "proceed_on": list(proceed_on), "netns": netns}
    _attach(BpfmanType.XDP, params, metadata, output)


@attach_group.command("tc")
@click.option("-d", "--direction", required=True)
@click.option("-i", "--iface", required=True)
@click.option("-p", "--priority", type=INT, required=True)
@PROCEED_ON
@NETNS
@META
@OUTPUT
@handled
def attach_tc(
    direction: str,
    iface: str,
    priority: int,
    proceed_on: tuple[str, ...],
    netns: str | None,
    metadata: tuple[str, ...],
    output: str,
) -> None:
    params = {
        "direction": direction,
        "iface": iface,
        "priority": priority,
        "proceed_on": list(proceed_on),
        "netns": netns,
    }
    _attach(BpfmanType.TC, params, metadata, output)


@attach_group.command("tcx")
@click.option("-d", "--direction", required=True)
@click.option("-i", "--iface", required=True)
@click.option("-p", "--priority", type=INT, required=True)
@NETNS
@META
@OUTPUT
@handled
def attach_tcx(
    direction: str,
    iface: str,
    priority: int,
    netns: str | None,
    metadata: tuple[str, ...],
    output: str,
) -> None:
    params = {"direction": direction, "iface": iface, "priority": priority, "netns": netns}
    _attach(BpfmanType.TCX, params, metadata, output)


@attach_group.command("tracepoint")
@click.option("-t", "--tracepoint", required=True, help="GROUP/NAME")
@META
@OUTPUT
@handled
def attach_tracepoint(tracepoint: str, metadata: tuple[str, ...], output: str) -> None:
    _attach(BpfmanType.TRACEPOINT, {"tracepoint": tracepoint}, metadata, output)


@attach_group.command("kprobe")
@click.option("-f", "--fn-name", required=True)
@click.option("-o", "--offset", type=INT, default=0)
@click.option("-c", "--container-pid", type=INT, default=None)
@META
@click.option("--output", type=click.Choice(["table", "json"]), default="table")
@handled
def attach_kprobe(
    fn_name: str, offset: int, container_pid: int | None, metadata: tuple[str, ...], output: str
) -> None:
    params = {"fn_name": fn_name, "offset": offset, "container_pid": container_pid}
    _attach(BpfmanType.KPROBE, params, metadata, output)


@attach_group.command("uprobe")
@click.option("-t", "--target", required=True)
@click.option("-f", "--fn-name", default=None)
@click.option("-o", "--offset", type=INT, default=0)
@click.option("-p", "--pid", type=INT, default=None)
@click.option("-c", "--container-pid", type=INT, default=None)
@META
@click.option("--output", type=click.Choice(["table", "json"]), default="table")
@handled
def attach_uprobe(
    target: str,
    fn_name: str | None,
    offset: int,
    pid: int | None,
    container_pid: int | None,
    metadata: tuple[str, ...],
    output: str,
) -> None:
    params = {
        "target": target,
        "fn_name": fn_name,
        "offset": offset,
        "pid": pid,
        "container_pid": container_pid,
    }
    _attach(BpfmanType.UPROBE, params, metadata, output)


@attach_group.command("fentry")
@META
@OUTPUT
@handled
def attach_fentry(metadata: tuple[str, ...], output: str) -> None:
    _attach(BpfmanType.FENTRY, {}, metadata, output)


@attach_group.command("fexit")
@META
@OUTPUT
@handled
def attach_fexit(metadata: tuple[str, ...], output: str) -> None:
    _attach(BpfmanType.FEXIT, {}, metadata, output)


# ---------------------------------------------------------------------- detach / unload


@click.command("detach", help="Detach one link.")
@click.argument("link_id", type=LINK_ID)
@handled
def detach(link_id: int) -> None:
    ctx_obj().manager().detach(link_id)


@click.command("unload", help="Detach all links of a program, then unload it.")
@click.argument("program_id", type=PROGRAM_ID)
@handled
def unload(program_id: int) -> None:
    ctx_obj().manager().unload(program_id)


# ---------------------------------------------------------------------- list / get


class AliasGroup(click.Group):
    """A group whose commands also answer to upstream's singular names (``list program``)."""

    aliases = {"program": "programs", "link": "links"}

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, self.aliases.get(cmd_name, cmd_name))

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name, cmd, rest = super().resolve_command(ctx, args)
        return (cmd.name if cmd else name), cmd, rest


@click.group("list", cls=AliasGroup, help="List programs or links (also: program, link).")
def list_group() -> None:
    pass


# the filters both lists take (upstream's flags)
PROGRAM_TYPE = click.option(
    "-p",
    "--program-type",
    default=None,
    help="kernel type word (xdp, tc (also tcx), tracepoint, probe, tracing, ...), "
    "a bpfman type word (tcx, kprobe, uretprobe, ...) or a kernel type number",
)
APPLICATION = click.option("--application", default=None, help="programs loaded with -a NAME")
SELECTOR = many("-m", "--metadata-selector", help="KEY=VALUE ... (all must match)")


def _selector(metadata_selector: tuple[str, ...], application: str | None) -> dict[str, str]:
    from bpfman.manager import parse

    selector = parse.metadata(list(metadata_selector), "--metadata-selector")
    if application:
        selector["bpfman_application"] = application
    return selector


@list_group.command("programs")
@click.option("-a", "--all", "show_all", is_flag=True, help="also programs bpfman did not load")
@PROGRAM_TYPE
@APPLICATION
@SELECTOR
@OUTPUT
@handled
def list_programs(
    show_all: bool,
    program_type: str | None,
    application: str | None,
    metadata_selector: tuple[str, ...],
    output: str,
) -> None:
    from bpfman.manager import query

    selector = _selector(metadata_selector, application)
    mgr = ctx_obj().manager()
    results = query.list_programs(mgr, show_all, program_type, selector, brief=output != "json")
    if output == "json":
        from bpfman.cli.output import emit_json

        emit_json([query.public(r) for r in results])
        return
    _programs_table(results)


@list_group.command("links")
@click.option("--program-id", type=PROGRAM_ID, default=None, help="links of this program only")
@PROGRAM_TYPE
@APPLICATION
@SELECTOR
@OUTPUT
@handled
def list_links(
    program_id: int | None,
    program_type: str | None,
    application: str | None,
    metadata_selector: tuple[str, ...],
    output: str,
) -> None:
    from bpfman.cli.output import LINK_HEADERS, emit_json, table
    from bpfman.manager import query, views

    mgr = ctx_obj().manager()
    found = query.list_links(
        mgr, program_id, program_type, _selector(metadata_selector, application)
    )
    if output == "json":
        emit_json([views.link_info(mgr, link) for link, _ in found])
        return
    rows = []
    for link, rec in found:
        rows.append(
            [
                link.program_id,
                link.id,
                rec.application if rec else "",
                rec.type_word if rec else "",
                rec.name if rec else "",
                views.attachment(link),
            ]
        )
    click.echo(table(LINK_HEADERS, rows))


@click.group("get", help="Details of one program or link.")
def get_group() -> None:
    pass


@get_group.command("program")
@click.argument("program_id", type=PROGRAM_ID)
@OUTPUT
@handled
def get_program(program_id: int, output: str) -> None:
    mgr = ctx_obj().manager()
    _print_programs(mgr, [program_id], output, single=True)


@get_group.command("link")
@click.argument("link_id", type=LINK_ID)
@OUTPUT
@handled
def get_link(link_id: int, output: str) -> None:
    from bpfman.manager import views

    mgr = ctx_obj().manager()
    link = mgr.link_record(link_id)
    _print_link(mgr, views.link_info(mgr, link), link.kind, output)


# ---------------------------------------------------------------------- doctor / gc


@click.command("doctor", help="Check DB, bpffs pins and kernel agree (read-only).")
@OUTPUT
@handled
def doctor(output: str) -> None:
    from bpfman.manager import reconcile

    mgr = _manager_or_db_problem()
    problems = reconcile.doctor(mgr)
    if output == "json":
        from bpfman.cli.output import emit_json

        emit_json([p.describe() for p in problems])
    else:
        for p in problems:
            click.echo(p.describe())
        if not problems:
            click.echo("ok: database, pins and kernel agree")
    sys.exit(1 if problems else 0)


@click.command("gc", help="Repair what doctor reports.")
@handled
def gc() -> None:
    from bpfman.manager import reconcile

    for line in reconcile.gc(_manager_or_db_problem()):
        click.echo(line)


def _manager_or_db_problem() -> Any:
    """The manager, for doctor and gc; a database that cannot be used is their finding
    (reported in one line, exit 1), not a crash."""
    from bpfman.manager.store import StoreError

    try:
        return ctx_obj().manager()
    except StoreError as e:
        click.echo(f"{e} (gc cannot repair it: move it aside to start afresh)")
        sys.exit(1)


# ---------------------------------------------------------------------- printing


def _print_programs(
    mgr: Any, ids: list[int], output: str, as_load: bool = False, single: bool = False
) -> None:
    from bpfman.cli.output import emit_json, get_program_text
    from bpfman.manager import query

    results = [query.program_result(mgr, i) for i in ids]
    if output == "json":
        if single:
            emit_json(query.public(results[0]))
        else:
            emit_json([query.public(r) for r in results])
        return
    if len(results) == 1:
        r = results[0]
        word, attachments = r.get("_type_word", ""), r.get("_attachments")
        click.echo(get_program_text(r.get("info"), r["kernel_info"], word, attachments))
    else:
        _programs_table(results)


def _programs_table(results: list[dict[str, Any]]) -> None:
    from bpfman.cli.output import programs_table

    click.echo(programs_table(results))


def _print_link(mgr: Any, link: dict[str, Any], kind: BpfmanType, output: str) -> None:
    from bpfman.cli.output import emit_json, get_link_text

    if output == "json":
        emit_json(link)
        return
    rec = mgr.store.program(link["program_id"])
    link["_attach_fn"] = rec.attach_fn if rec else None
    click.echo(get_link_text(link, kind))


# `bpfman image ...` is a lazy command of bpfman.cli.main (LAZY_COMMANDS)
COMMANDS = [load_group, attach_group, detach, unload, list_group, get_group, doctor, gc]
