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


@click.command("compile")
@click.argument("sources", nargs=-1, required=True, metavar="PROG.bpf.c...")
@click.option(
    "-o",
    "--output",
    "out_dir",
    default=None,
    metavar="DIR",
    help="directory of the objects (default: the current one)",
)
@click.option(
    "--vmlinux",
    default=None,
    metavar="FILE",
    help="BTF, vmlinux ELF or vmlinux.h of the target kernel (default: the running one)",
)
@click.option("-I", "includes", multiple=True, metavar="DIR", help="include directory; repeatable")
@click.option("-D", "defines", multiple=True, metavar="X[=V]", help="macro; repeatable")
@click.option(
    "--cache-dir",
    default=None,
    metavar="DIR",
    help="where generated vmlinux.h files are kept (default /var/cache/bpfman as root)",
)
def compile_cmd(
    sources: tuple[str, ...],
    out_dir: str | None,
    vmlinux: str | None,
    includes: tuple[str, ...],
    defines: tuple[str, ...],
    cache_dir: str | None,
) -> None:
    """Compile eBPF C sources with the system's clang (-O2 -g -target bpf), libbpf's
    headers and a vmlinux.h made from the kernel's BTF (cached). Prints the objects."""
    from bpfman import compiler
    from bpfman.errors import BpfError

    req = compiler.Request(sources, out_dir, vmlinux, includes, defines, cache_dir)
    try:
        written = compiler.build(req)
    except (BpfError, OSError) as e:
        _fail(str(e))
    for path in written:
        click.echo(path)
