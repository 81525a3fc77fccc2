"""The public API is discoverable: ``dir(bpfman)`` and ``__all__`` list it, and every
public name and every public member of its classes has a docstring."""

from __future__ import annotations

import ast
import asyncio
import dataclasses
import enum
import inspect
import os
import pydoc
import time
from pathlib import Path
from typing import Any

import bpfman

INIT = Path(bpfman.__file__)


def test_dir_lists_the_public_api_and_nothing_else() -> None:
    assert dir(bpfman) == sorted([*bpfman.__all__, "__version__"])
    for name in ("Any", "TYPE_CHECKING", "annotations"):
        assert name not in dir(bpfman)
    for name in ("Candidate", "AttachResult", "TypedMap", "TestRunResult", "XdpAction", "TcAction"):
        assert name in bpfman.__all__


def test_every_name_in_all_resolves() -> None:
    for name in bpfman.__all__:
        assert getattr(bpfman, name) is not None, name


def test_lazy_table_and_type_checking_imports_agree() -> None:
    """``_LAZY`` (run time) and the TYPE_CHECKING block (type checkers) name the same things."""
    tree = ast.parse(INIT.read_text())
    typed: dict[str, tuple[str, str | None]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            for imp in node.body:
                assert isinstance(imp, ast.ImportFrom)
                if imp.module == "typing":  # the annotations' own (typing costs start-up)
                    continue
                for alias in imp.names:
                    name = alias.asname or alias.name
                    if imp.module == "bpfman":  # "from bpfman import features"
                        typed[name] = (f"bpfman.{alias.name}", None)
                    else:
                        typed[name] = (str(imp.module), alias.name)
    assert typed == bpfman._LAZY


def _public_members(cls: type) -> list[tuple[str, Any]]:
    out = []
    for name in dir(cls):
        if name.startswith("_"):
            continue
        member = inspect.getattr_static(cls, name)
        if isinstance(cls, enum.EnumMeta) and isinstance(member, enum.Enum):
            continue  # enum values are documented by the class
        if isinstance(member, (staticmethod, classmethod)):
            member = member.__func__
        if callable(member) or isinstance(member, property):
            out.append((name, member))
    return out


def _undocumented() -> list[str]:
    missing = []
    for name in bpfman.__all__:
        value = getattr(bpfman, name)
        if not inspect.getdoc(value):
            missing.append(name)
        if inspect.ismodule(value):
            members = [
                (n, v)
                for n, v in inspect.getmembers(value)
                if not n.startswith("_")
                and (inspect.isfunction(v) or inspect.isclass(v))
                and getattr(v, "__module__", None) == value.__name__
            ]
        elif inspect.isclass(value):
            members = _public_members(value)
        else:
            continue
        for member_name, member in members:
            doc = member.fget.__doc__ if isinstance(member, property) else member.__doc__
            if not (doc or "").strip():
                missing.append(f"{name}.{member_name}")
    return missing


def test_every_public_name_and_member_has_a_docstring() -> None:
    assert _undocumented() == []


def _undocumented_attributes(instances: list[Any]) -> list[str]:
    """Public data attributes (dataclass fields, instance attributes) that no docstring of
    their class or its bpfman bases names as ``attr``."""
    missing = []
    values = [getattr(bpfman, name) for name in bpfman.__all__]
    targets: list[tuple[type, list[str]]] = [
        (v, [f.name for f in dataclasses.fields(v)])
        for v in values
        if inspect.isclass(v) and dataclasses.is_dataclass(v)
    ]
    targets += [(type(x), [a for a in vars(x) if not a.startswith("_")]) for x in instances]
    for cls, attrs in targets:
        docs = " ".join(
            inspect.getdoc(c) or "" for c in cls.__mro__ if c.__module__.startswith("bpfman")
        )
        missing += [f"{cls.__name__}.{a}" for a in attrs if f"``{a}``" not in docs]
    return missing


def test_every_public_attribute_is_named_in_its_class_docstring(bpf_obj) -> None:
    """The attributes ``help()`` cannot see (set in ``__init__``, dataclass fields)."""
    spec = bpfman.open(bpf_obj("library"))
    instances: list[Any] = [spec, spec.programs["on_kill"], spec.maps["counts"]]
    with spec.load() as obj:
        link = obj.programs["on_kill"].attach()
        counts = obj.maps["counts"]
        with bpfman.RingBuffer(obj.maps["events"]) as rb:
            instances += [obj, obj.programs["on_kill"], counts, counts.typed(), link, rb]
            instances += [bpfman.BpfError("x"), bpfman.KernelFeatureError("x", "kprobe")]
            instances += [bpfman.UnknownName("x"), bpfman.InputError("x")]
            assert _undocumented_attributes(instances) == []


def test_help_shows_the_public_classes() -> None:
    text = pydoc.render_doc(bpfman, renderer=pydoc.plaintext)  # type: ignore[attr-defined]
    for name in ("ObjectSpec", "attach_all", "RingBuffer", "XdpAction", "attach_first"):
        assert name in text


def test_verdict_enums_match_the_kernels_numbers(bpf_obj) -> None:
    assert [int(a) for a in bpfman.XdpAction] == [0, 1, 2, 3, 4]  # enum xdp_action
    assert int(bpfman.TcAction.SHOT) == 2 and int(bpfman.TcAction.REDIRECT) == 7
    assert int(bpfman.TcAction.NEXT) == int(bpfman.TcAction.UNSPEC) == -1  # TCX_NEXT
    with bpfman.load(bpf_obj("library")) as obj:
        result = obj.programs["pass_all"].test_run(bytes(64))
        assert bpfman.XdpAction(result.retval) is bpfman.XdpAction.PASS
        assert isinstance(result, bpfman.TestRunResult)


def _kill_source(bpf_obj) -> tuple[bpfman.Object, bpfman.RingBuffer]:
    spec = bpfman.open(bpf_obj("library"))
    spec.globals["target_pid"] = os.getpid()
    obj = spec.load()
    obj.programs["on_kill"].attach()
    return obj, bpfman.RingBuffer(obj.maps["events"])


def test_events_end_at_the_deadline_while_events_keep_coming(bpf_obj) -> None:
    obj, rb = _kill_source(bpf_obj)
    with obj, rb:
        os.kill(os.getpid(), 0)
        start = time.monotonic()
        seen = 0
        for _ev in rb.events(deadline=0.3):  # no idle timeout: only the deadline ends it
            seen += 1
            os.kill(os.getpid(), 0)  # one more event for every one read: a stream that never idles
        assert seen >= 1
        assert time.monotonic() - start >= 0.3
        # the idle timeout still ends an iteration long before its deadline once nothing comes
        start = time.monotonic()
        rest = list(rb.events(timeout=0.05, deadline=600))
        assert time.monotonic() - start < 300
        assert set(rest) <= {os.getpid().to_bytes(4, "little")}


def test_async_events_end_at_the_deadline(bpf_obj) -> None:
    obj, rb = _kill_source(bpf_obj)

    async def read() -> int:
        n = 0
        os.kill(os.getpid(), 0)
        async for _ev in rb.aevents(deadline=0.3):
            n += 1
            os.kill(os.getpid(), 0)
        return n

    with obj, rb:
        start = time.monotonic()
        assert asyncio.run(read()) >= 1
        assert time.monotonic() - start >= 0.3
