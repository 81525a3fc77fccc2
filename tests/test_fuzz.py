"""Bounded fuzzing (hypothesis) of the parsers that read what others write: ELF objects and
their sections, OCI manifests, configs and labels, and the CLI's arguments. A crash is any
exception but the project's documented ones (``BpfError`` and its kinds; click's usage
errors for the CLI). Each test runs a fixed number of examples, derandomized: a few seconds
in ``make test``, the same inputs every run."""

from __future__ import annotations

import contextlib
import io
import json
import tarfile
from typing import Any

import click
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bpfman import elf
from bpfman.errors import BpfError
from bpfman.images import labels, layout, reference

FUZZ = settings(
    max_examples=100,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=8,
)


def _real_object() -> bytes:
    from conftest import BUILD

    return (BUILD / "basic.bpf.o").read_bytes()


REAL = _real_object()


@st.composite
def mutated_elf(draw: st.DrawFn) -> bytes:
    """The real object with bytes overwritten (headers most often) and maybe truncated."""
    data = bytearray(REAL)
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.one_of(st.integers(0, 63), st.integers(0, len(data) - 1)))
        data[at] = draw(st.integers(0, 255))
    cut = draw(st.one_of(st.just(len(data)), st.integers(0, len(data))))
    return bytes(data[:cut])


def _parse_elf(data: bytes) -> None:
    try:
        f = elf.ElfFile(data)
        list(f.symbols())
        list(f.static_programs())
        for s in f.sections:
            assert isinstance(s.name, str)
    except BpfError:
        pass
    patched = elf.globalize_static_programs(data)  # never raises: libbpf gives the error
    assert patched is None or len(patched) == len(data)


@FUZZ
@given(mutated_elf())
def test_elf_parser_on_mutated_objects(data: bytes) -> None:
    _parse_elf(data)


@FUZZ
@given(st.binary(max_size=512).map(lambda b: b"\x7fELF" + b))
def test_elf_parser_on_random_bytes(data: bytes) -> None:
    _parse_elf(data)


# ---------------------------------------------------------------------- OCI


def _descriptor() -> st.SearchStrategy[Any]:
    return st.one_of(
        JSON,
        st.fixed_dictionaries(
            {"digest": st.one_of(st.text(max_size=10), JSON)},
            optional={
                "mediaType": JSON,
                "size": st.one_of(st.integers(), st.text(max_size=5), JSON),
                "platform": st.one_of(
                    JSON,
                    st.fixed_dictionaries(
                        {"os": JSON, "architecture": JSON}, optional={"variant": JSON}
                    ),
                ),
            },
        ),
    )


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(["config", "layers", "manifests", "mediaType", "x"]),
        st.one_of(_descriptor(), st.lists(_descriptor(), max_size=3)),
        max_size=4,
    ),
    st.sampled_from(["linux/amd64", "linux/arm64"]),
)
def test_manifests_and_indexes(doc: dict[str, Any], platform: str) -> None:
    raw = json.dumps(doc).encode()
    try:
        parsed = layout.parse_json(raw, "manifest")
        if layout.is_index(parsed, str(parsed.get("mediaType", ""))):
            d = layout.select_platform(parsed, platform, "img")
        else:
            config, d = layout.config_and_layer(parsed, "img")
            assert config.size >= 0
        assert isinstance(d.size, int) and d.size >= 0
    except BpfError:
        pass


@FUZZ
@given(st.one_of(st.binary(max_size=200), JSON.map(lambda v: json.dumps(v).encode())))
def test_config_labels(raw: bytes) -> None:
    try:
        found = layout.config_labels(raw, "img")
        labels.from_config(found, "img")
    except BpfError:
        pass


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(
            [labels.PROGRAMS, labels.MAPS, labels.OLD_FUNCTION, labels.OLD_TYPE, "other"]
        ),
        st.one_of(st.text(max_size=30), JSON.map(json.dumps)),
        max_size=4,
    )
)
def test_bytecode_labels(found: dict[str, str]) -> None:
    try:
        result = labels.from_config(found, "img")
    except BpfError:
        return
    if result is not None:
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in result.programs.items())


def _tar(name: str, payload: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    return buf.getvalue()


@FUZZ
@given(st.binary(max_size=64), st.integers(0, 2047), st.integers(0, 255), st.booleans())
def test_layers(payload: bytes, at: int, byte: int, gzipped: bool) -> None:
    import gzip

    data = bytearray(_tar("prog.o", payload))
    data[at % len(data)] = byte
    raw = gzip.compress(bytes(data)) if gzipped else bytes(data)
    with contextlib.suppress(BpfError):
        layout.first_file(raw, "img")


@FUZZ
@given(st.text(max_size=80))
def test_image_references(url: str) -> None:
    try:
        ref = reference.parse(url)
    except BpfError:
        return
    assert ref.registry and ref.repository


# ---------------------------------------------------------------------- CLI arguments

WORDS = st.one_of(
    st.sampled_from(
        [
            "-p", "--path", "--programs", "-g", "-m", "-a", "--map-owner-id", "-o", "json",
            "tracepoint:count_kill", "xdp:x", "fentry:f:g", "a=b", "k=", "=v", "ab=zz",
            "-1", "0", "1", str(1 << 64), "\u0661", "-i", "-d", "ingress", "--proceed-on",
            "pass", "--netns", "-n", "--priority", "--pid", "--offset", "-t", "", "--",
        ]
    ),
    st.text(max_size=12),
)  # fmt: skip


def _command_paths() -> list[tuple[str, click.Command]]:
    from bpfman.cli.manage import COMMANDS

    out = []
    for cmd in COMMANDS:
        if isinstance(cmd, click.Group):
            out += [(f"{cmd.name} {n}", c) for n, c in cmd.commands.items()]
        else:
            out.append((str(cmd.name), cmd))
    return out


COMMAND_PATHS = _command_paths()


@FUZZ
@given(st.sampled_from(COMMAND_PATHS), st.lists(WORDS, max_size=8))
def test_cli_arguments_parse_or_fail_as_usage_errors(
    command: tuple[str, click.Command], args: list[str]
) -> None:
    """Parsing only (``make_context`` runs no command): a bad word is a usage error."""
    name, cmd = command
    try:
        with cmd.make_context(f"bpfman {name}", list(args)) as ctx:
            assert isinstance(ctx.params, dict)
    except (click.exceptions.ClickException, click.exceptions.Exit):
        pass


@FUZZ
@given(st.lists(st.text(max_size=20), max_size=4), st.lists(st.text(max_size=20), max_size=4))
def test_cli_value_parsers(programs: list[str], pairs: list[str]) -> None:
    from bpfman.manager import parse

    for fn, value in [
        (parse.program_requests, programs),
        (parse.metadata, pairs),
        (parse.global_data, pairs),
        (parse.lock_timeout, "".join(pairs)),
    ]:
        with contextlib.suppress(BpfError):
            fn(value)  # type: ignore[operator]
