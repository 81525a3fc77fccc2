"""``bpfman``: the command-line entry point.

Commands are imported only when they run (``bpfman probe`` must not pay for
the manager, ``bpfman list`` not for images or the daemon), through
``LAZY_COMMANDS``; the manager's commands come from ``bpfman.cli.manage.COMMANDS``.
tests/test_cli_startup.py checks which modules each command imports.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

# name -> (module, attribute), imported on first use
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "probe": ("bpfman.cli.main", "probe"),
    "serve": ("bpfman.cli.serve", "serve"),
    "metrics": ("bpfman.cli.serve", "metrics"),
    "image": ("bpfman.cli.images", "image_group"),
    "completion": ("bpfman.cli.main", "completion"),
    "gen": ("bpfman.cli.devtools", "gen"),
    "compile": ("bpfman.cli.devtools", "compile_cmd"),
}
# lazy commands that run without the manager commands' global options (``Ctx``)
STANDALONE = frozenset({"probe", "serve", "metrics", "completion", "gen", "compile"})
MANAGER_MODULE = "bpfman.cli.manage"


def _manager_commands() -> dict[str, click.Command]:
    try:
        mod = importlib.import_module(MANAGER_MODULE)
    except ImportError:
        return {}
    return {c.name: c for c in getattr(mod, "COMMANDS", ()) if c.name}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*LAZY_COMMANDS, *_manager_commands()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS:
            module, attr = LAZY_COMMANDS[cmd_name]
            cmd: click.Command = getattr(importlib.import_module(module), attr)
            return cmd
        return _manager_commands().get(cmd_name)


@click.group(cls=LazyGroup)
@click.option("--runtime-dir", default=None, help="bpfman's runtime root (default /run/bpfman)")
@click.option("--config", default=None, help="config file (default /etc/bpfman/bpfman.toml)")
@click.option(
    "--log",
    "log_level",
    type=click.Choice(["error", "warn", "info", "debug"], case_sensitive=False),
    default="warn",
    help="log level (stderr)",
)
@click.version_option(package_name="pybpfman", prog_name="bpfman")
@click.pass_context
def main(ctx: click.Context, runtime_dir: str | None, config: str | None, log_level: str) -> None:
    """bpfman: load, attach and manage eBPF programs."""
    if log_level.lower() != "warn":
        import logging

        level = {"error": logging.ERROR, "info": logging.INFO, "debug": logging.DEBUG}
        logging.basicConfig(level=level[log_level.lower()], format="bpfman: %(message)s")
    if ctx.invoked_subcommand not in STANDALONE:
        mod: Any = importlib.import_module(MANAGER_MODULE)
        ctx.obj = mod.Ctx(runtime_dir, config)


@click.command("probe")
@click.option(
    "-o", "--output", type=click.Choice(["table", "json"]), default="table", help="output format"
)
def probe(output: str) -> None:
    """What the running kernel supports: attach kinds, program and map types."""
    import json
    import os

    from bpfman import features

    found = features.all()
    major, minor = features.libbpf_version()
    if output == "json":
        report = {
            "kernel": os.uname().release,
            "libbpf": f"{major}.{minor}",
            "root": os.geteuid() == 0,
            "features": {f.name: {"available": f.available, "detail": f.detail} for f in found},
        }
        click.echo(json.dumps(report, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"kernel {os.uname().release}, libbpf {major}.{minor}")
    table.add_column("feature")
    table.add_column("available")
    table.add_column("detail", overflow="fold")
    previous = ""
    for f in found:
        group = f.name.partition(":")[0] if ":" in f.name else ""
        if group != previous:
            table.add_section()
            previous = group
        mark = "[green]yes[/green]" if f.available else "[red]no[/red]"
        table.add_row(f.name, mark, f.detail)
    Console().print(table)


@click.command("completion")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the shell completion script, e.g. `eval "$(bpfman completion bash)"`."""
    from click.shell_completion import get_completion_class

    cls = get_completion_class(shell)
    assert cls is not None  # click ships these three
    click.echo(cls(main, {}, "bpfman", "_BPFMAN_COMPLETE").source())


if __name__ == "__main__":
    main()
