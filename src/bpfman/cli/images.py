"""``bpfman image pull | build | generate-build-args``: eBPF bytecode in OCI images.

(``bpfman load image`` lives next to ``load file`` in ``manage.py``.) Images
are cached under ``<runtime>/images/``; see ``bpfman.images``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from bpfman.cli.manage import OUTPUT, ctx_obj, handled

F = TypeVar("F", bound=Callable[..., Any])

# --bc-<goarch>-<el|eb> FILE: one object per platform (bpfman's build-arg names; the
# slots of bpfman.images.platform.SLOTS, written out so that `--help` needs no bpfman.images)
_SLOT_OPTIONS = [
    ("386", "el"), ("amd64", "el"), ("arm", "el"), ("arm64", "el"), ("loong64", "el"),
    ("mips", "eb"), ("mipsle", "el"), ("mips64", "eb"), ("mips64le", "el"), ("ppc64", "eb"),
    ("ppc64le", "el"), ("riscv64", "el"), ("s390x", "eb"),
]  # fmt: skip


def _sources(fn: F) -> F:
    """The bytecode source options of ``image build`` and ``generate-build-args``."""
    opts = [
        click.option("-b", "--bytecode-file", default=None, help="one object, for this host"),
        click.option(
            "-c",
            "--cilium-ebpf-project",
            default=None,
            help="a cilium/ebpf project directory (its <name>_<arch>_<bpfel|bpfeb>.o objects)",
        ),
    ]
    for arch, endian in _SLOT_OPTIONS:
        name = f"bc_{arch}_{endian}"
        opts.append(
            click.option(
                f"--bc-{arch}-{endian}", name, default=None, help=f"object for linux/{arch}"
            )
        )
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


def _plan(bytecode_file: str | None, cilium_ebpf_project: str | None, slots: dict[str, Any]) -> Any:
    from bpfman.images import build

    per_arch = {k.upper(): v for k, v in slots.items() if k.startswith("bc_") and v}
    inputs = build.inputs_from(bytecode_file, cilium_ebpf_project, per_arch)
    return build.plan(inputs)


def _runtime_root() -> str:
    from bpfman.manager.paths import runtime_root

    return runtime_root(ctx_obj().runtime_dir)


def _signing() -> Any:
    from bpfman.images import SigningPolicy
    from bpfman.manager.config import Config

    config = Config.read(ctx_obj().config)
    return SigningPolicy.from_config(config.signing)


@click.group("image", help="eBPF bytecode in OCI images: pull, build, generate-build-args.")
def image_group() -> None:
    pass


@image_group.command("pull", help="Pull an image into bpfman's cache (no load).")
@click.option("-i", "--image-url", required=True, help="image reference")
@click.option("-r", "--registry-auth", default=None, help="BASE64(USER:PASSWORD)")
@click.option("-p", "--pull-policy", default="IfNotPresent", help="Always|IfNotPresent|Never")
@OUTPUT
@handled
def pull(image_url: str, registry_auth: str | None, pull_policy: str, output: str) -> None:
    from bpfman import images

    pulled = images.pull(
        _runtime_root(),
        image_url,
        images.PullPolicy.parse(pull_policy),
        images.Credentials.from_base64(registry_auth),
        _signing(),
    )
    info = {
        "url": pulled.url,
        "reference": pulled.reference,
        "digest": pulled.digest,
        "manifest_digest": pulled.manifest_digest,
        "platform": pulled.platform,
        "object": pulled.object_name,
        "programs": pulled.labels.programs,
        "maps": pulled.labels.maps,
        "signature": pulled.signature,
        "from_cache": pulled.from_cache,
    }
    if output == "json":
        from bpfman.cli.output import emit_json

        emit_json(info)
        return
    from bpfman.cli.output import block

    click.echo("Successfully downloaded bytecode")  # upstream's line, which scripts look for
    click.echo(
        block(
            "Image",
            [
                ("Reference:", pulled.reference),
                ("Digest:", pulled.digest),
                ("Platform:", f"{pulled.platform} ({pulled.manifest_digest})"),
                ("Object:", pulled.object_name),
                ("Programs:", ", ".join(f"{k} ({v})" for k, v in pulled.labels.programs.items())),
                ("Maps:", ", ".join(f"{k} ({v})" for k, v in pulled.labels.maps.items())),
                ("Signature:", pulled.signature),
                ("From Cache:", pulled.from_cache),
            ],
        )
    )


@image_group.command(
    "build",
    help="Build a bytecode image from object files and push it to the registry "
    "(no container engine needed; labels computed from the objects).",
)
@click.option("-t", "--tag", required=True, help="image reference to push, e.g. host/repo:tag")
@_sources
@click.option("--registry-auth", default=None, help="BASE64(USER:PASSWORD) for the push")
@OUTPUT
@handled
def build_cmd(
    tag: str,
    bytecode_file: str | None,
    cilium_ebpf_project: str | None,
    registry_auth: str | None,
    output: str,
    **slots: Any,
) -> None:
    from bpfman import images
    from bpfman.images import build
    from bpfman.images.reference import parse

    parse(tag)  # a bad reference is an input error before any work
    plan = _plan(bytecode_file, cilium_ebpf_project, slots)
    built = build.build(plan)
    digest = build.push(tag, built, plan.multi_arch, images.Credentials.from_base64(registry_auth))
    if output == "json":
        from bpfman.cli.output import emit_json

        emit_json(
            {
                "tag": tag,
                "digest": digest,
                "platforms": {b.platform: b.digest for b in built},
                "programs": plan.labels[0].programs,
                "maps": plan.labels[0].maps,
            }
        )
        return
    click.echo(f"pushed {tag}@{digest}")
    for b in built:
        click.echo(f"  {b.platform}: {b.digest}")


@image_group.command(
    "generate-build-args",
    help="Print the build args (BC_*=path or BYTECODE_FILE=path, PROGRAMS=, MAPS=) "
    "a Containerfile build of a bytecode image needs.",
)
@_sources
@handled
def generate_build_args(
    bytecode_file: str | None, cilium_ebpf_project: str | None, **slots: Any
) -> None:
    click.echo(_plan(bytecode_file, cilium_ebpf_project, slots).build_args())
