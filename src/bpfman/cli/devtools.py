"""Developer commands: ``bpfman gen python`` (typed skeletons) and ``bpfman compile``.

They run without the manager (no runtime dir, no database) and import what
they need only when they run.
"""

from __future__ import annotations

import sys

import click


def _fail(message: str, code: int = 1) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


@click.group("gen")
def gen() -> None:
    """Generate code from eBPF objects."""


@gen.command("python")
@click.argument("obj", metavar="OBJ.bpf.o")
@click.option(
    "-t", "--type", "types", multiple=True, metavar="NAME",
    help="also generate this BTF type (struct, union, enum, typedef); repeatable",
)  # fmt: skip
@click.option(
    "--object-path", default=None, metavar="PATH",
    help="the object path the skeleton loads by default (default: OBJ, made absolute)",
)  # fmt: skip
def gen_python(obj: str, types: tuple[str, ...], object_path: str | None) -> None:
    """A typed Python module for OBJ: ctypes classes of its types, its programs,
    maps (typed keys and values) and globals. `bpfman gen python x.bpf.o > x_skel.py`"""
    from bpfman import skeleton
    from bpfman.errors import BpfError

    try:
        source = skeleton.generate(obj, types, object_path)
    except BpfError as e:
        _fail(str(e))
    click.echo(source, nl=False)
