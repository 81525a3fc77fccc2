"""The manager's type table (``bpfman.manager.typetable``): one row per bpfman type, and every
per-type table read from it agrees with the rows, the gRPC API and the library's tables.

Pure: no kernel, no BPF objects.
"""

from __future__ import annotations

import pytest

from bpfman.attach.sections import SECTION_DEFS
from bpfman.dispatch import config, verdicts
from bpfman.kinds import AttachType, ProgramType, kernel_type_word
from bpfman.manager import attacher, models, parse, readonly, typetable
from bpfman.manager.models import BpfmanType, ProgramRequest
from bpfman.manager.typetable import TYPES
from bpfman.server import bpfman_pb2 as pb


def oneof_fields(message: type, oneof: str = "info") -> list[str]:
    return [f.name for f in message.DESCRIPTOR.oneofs_by_name[oneof].fields]  # type: ignore[attr-defined]


def test_every_bpfman_type_has_exactly_one_row() -> None:
    numbers = [row.number for row in typetable._ROWS]
    assert len(numbers) == len(set(numbers)), "a type with two rows"
    assert sorted(TYPES) == sorted(t.value for t in BpfmanType)
    for kind in BpfmanType:
        row = TYPES[kind]
        assert row.number == kind.value
        assert row.word == kind.name.lower()
        # the gRPC API's enum is the same list
        assert pb.BpfmanProgramType.Name(kind.value) == kind.name


def test_load_words_name_each_type_and_return_probe_once() -> None:
    expected = ["xdp", "tc", "tcx", "tracepoint", "kprobe", "kretprobe", "uprobe", "uretprobe",
                "fentry", "fexit"]  # fmt: skip
    assert list(typetable.LOAD_WORDS) == expected  # the order --programs' error lists them in
    for word, (number, retprobe) in typetable.LOAD_WORDS.items():
        row = TYPES[number]
        assert word == (row.return_word if retprobe else row.word)
        assert typetable.type_word(number, retprobe) == word
        assert readonly.type_word(number, retprobe) == word
        assert models.type_name(BpfmanType(number), retprobe) == word
        (request,) = parse.program_requests([f"{word}:f:fn" if row.attach_type else f"{word}:f"])
        assert (request.kind, request.retprobe, request.type_word) == (number, retprobe, word)
    assert typetable.type_word(99, False) == "99"  # a type this code does not know


def test_kernel_type_and_upstream_label_word() -> None:
    for row in TYPES.values():
        kernel_type = ProgramType[row.kernel_type]
        assert kernel_type_word(kernel_type) == row.label
    from bpfman.manager import loadplan

    assert loadplan.kernel_type(BpfmanType.TCX) == ProgramType.SCHED_CLS
    assert loadplan.kernel_type(BpfmanType.UPROBE) == ProgramType.KPROBE


def test_return_probes_come_from_the_section_table() -> None:
    retprobe_kinds = {d.kind for d in SECTION_DEFS if d.retprobe}
    for row in TYPES.values():
        assert bool(row.return_word) == bool(row.return_sections), row
        assert set(row.return_sections) <= retprobe_kinds, row


def test_grpc_field_names_are_the_protos() -> None:
    assert set(typetable.BY_ATTACH_INFO) == set(oneof_fields(pb.AttachInfo))
    for row in TYPES.values():
        message = getattr(pb.AttachInfo(), row.attach_info)
        fields = [f.name for f in message.DESCRIPTOR.fields if f.name != "metadata"]
        assert list(row.attach_fields) == fields, row  # in API order
        assert typetable.BY_ATTACH_INFO[row.attach_info] == row.number
    loads = {row.load_info for row in TYPES.values()} - {None}
    assert loads == set(oneof_fields(pb.ProgSpecificInfo))


def test_load_time_attach_function() -> None:
    for row in TYPES.values():
        assert (row.load_info is None) == (row.attach_type is None), row
        if row.attach_type:
            AttachType[row.attach_type]  # a member


def test_cli_rows_and_attachment_column() -> None:
    from bpfman.cli.output import LINK_LABELS

    for row in TYPES.values():
        assert len(set(row.shown)) == len(row.shown), row
        assert set(row.shown) <= set(LINK_LABELS), row
        # get link shows every attach field; fentry/fexit their load's kernel function
        extra = {"fn_name"} if row.attach_type else set()
        assert set(row.shown) == set(row.attach_fields) | extra, row
        assert set(row.attachment) <= set(row.shown), row
    keys = {k for row in TYPES.values() for k in row.attachment}
    assert set(typetable.ATTACHMENT_KEYS) == keys


def test_hooks_and_dispatchers() -> None:
    assert set(attacher.NET_KINDS) == {k for k in BpfmanType if TYPES[k].hook is not None}
    # every type attaches to a network hook or by a function of its own, not both
    assert set(attacher.NET_KINDS).isdisjoint(attacher.ATTACHERS)
    assert set(attacher.NET_KINDS) | set(attacher.ATTACHERS) == set(BpfmanType)
    for row in TYPES.values():
        if row.hook is not None:
            assert row.attach_fields[: len(typetable.NET)] == typetable.NET, row
        if row.dispatcher is not None:
            assert row.hook is not None, row
            assert row.dispatcher in config.DISPATCHER_RETURN, row
            assert row.dispatcher in verdicts.VERDICTS, row  # its --proceed-on words
        # a dispatcher's slot is what proceed-on words configure
        assert ("proceed_on" in row.attach_fields) == (row.dispatcher is not None), row


@pytest.mark.parametrize(
    ("word", "label", "fits"),
    [
        ("uprobe", "probe", True),  # upstream's word
        ("kretprobe", "probe", True),
        ("fexit", "tracing", True),
        ("tcx", "tc", True),
        ("tc", "tcx", True),  # pybpfman's older words, of one family
        ("uprobe", "uretprobe", True),
        ("kprobe", "uprobe", False),
        ("fentry", "fexit", False),
        ("xdp", "tc", False),
        ("tracepoint", "probe", False),
        ("xdp", "bogus", False),
    ],
)
def test_image_label_words(word: str, label: str, fits: bool) -> None:
    number, retprobe = typetable.LOAD_WORDS[word]
    request = ProgramRequest(BpfmanType(number), "f", retprobe, "fn")
    assert request.fits_label(label) is fits
