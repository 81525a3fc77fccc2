"""``attach_first``: load and attach the first of several programs the kernel can run.

    result = bpfman.attach_first(bpfman.open("count.bpf.o"), [
        ("count_fentry", {}),
        ("count_tp", {"group": "syscalls", "name": "sys_enter_kill"}),
        ("count_kprobe", {"fn": "__x64_sys_kill"}),
    ])
    obj, link, chosen = result          # result.skipped: (program, its exception) passed over

Candidates whose kind a feature probe rules out are skipped without
touching the kernel. Only the chosen program is loaded (autoload off for
the rest); if it still fails to load or attach, the object file is opened
again, with the original's global variables and map settings, and the next
candidate is tried.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bpfman import features
from bpfman.errors import BpfError, KernelFeatureError

if TYPE_CHECKING:
    from bpfman.link import Link
    from bpfman.object import Object, ObjectSpec


@dataclass(frozen=True)
class Candidate:
    """One program ``attach_first`` may choose: ``program`` (its name) and ``kwargs``
    (the keywords for its ``attach()``)."""

    program: str
    kwargs: dict[str, Any] = field(default_factory=dict)  # for Program.attach()


@dataclass
class AttachResult:
    """What ``attach_first`` chose: ``obj, link, program = result``.

    ``object`` is the loaded Object (close it when done; it owns ``link``),
    ``program`` the chosen program's name, ``skipped`` the candidates passed
    over, in order, each with the exception that ruled it out
    (``KernelFeatureError`` with its ``feature`` when a probe did, else the
    load's or attach's ``BpfError``; ``str(error)`` says why).
    """

    object: Object
    link: Link
    program: str
    skipped: list[tuple[str, BpfError]]

    def __iter__(self) -> Iterator[Any]:
        """``obj, link, program = result``."""
        return iter((self.object, self.link, self.program))


CandidateLike = Candidate | tuple[str, dict[str, Any]] | str


def _candidate(c: CandidateLike) -> Candidate:
    if isinstance(c, Candidate):
        return c
    if isinstance(c, str):
        return Candidate(c)
    name, kwargs = c
    return Candidate(name, dict(kwargs))


@dataclass
class _Settings:
    """What the caller set on the spec, to carry over to a reopened one."""

    globals: dict[str, Any]
    maps: dict[str, tuple[int, int, str | None]]  # name -> (max_entries, flags, pin_path)

    @classmethod
    def of(cls, spec: ObjectSpec) -> _Settings:
        maps = {
            m.name: (m.max_entries, m.flags, m.pin_path)
            for m in spec.maps.values()
            if not m.internal
        }
        return cls({n: spec.globals[n] for n in spec.globals}, maps)

    def apply(self, spec: ObjectSpec) -> None:
        for name, value in self.globals.items():
            if spec.globals[name] != value:
                spec.globals[name] = value
        for name, (max_entries, flags, pin_path) in self.maps.items():
            m = spec.maps[name]
            if m.max_entries != max_entries:
                m.max_entries = max_entries
            if m.flags != flags:
                m.flags = flags
            if m.pin_path != pin_path:
                m.pin_path = pin_path


def attach_first(
    spec: ObjectSpec | str | os.PathLike[str],
    candidates: Sequence[CandidateLike],
    configure: Callable[[ObjectSpec], None] | None = None,
) -> AttachResult:
    """Load and attach the first candidate program the running kernel supports.

    *candidates* are ``Candidate``s, ``(program, attach kwargs)`` pairs or
    program names, best first. *configure* is called on every spec opened
    again after a failed attempt (the settings of *spec* are copied first).
    """
    from bpfman.object import ObjectSpec

    cands = [_candidate(c) for c in candidates]
    if not cands:
        raise BpfError("attach_first needs at least one candidate")
    first = spec if isinstance(spec, ObjectSpec) else ObjectSpec(spec)
    try:
        progs = [first.programs[c.program] for c in cands]  # KeyError listing the known ones
    except KeyError:
        first.close()
        raise
    needed = {
        p.name: features.feature_of_program(p.type, p.expected_attach_type, p.section)
        for p in progs
    }
    settings = _Settings.of(first)
    path = first.path
    current: ObjectSpec | None = first
    skipped: list[tuple[str, BpfError]] = []
    try:
        for c in cands:
            feature = needed[c.program]
            if feature and not features.available(feature):
                detail = features.probe(feature).detail
                skipped.append((c.program, KernelFeatureError(detail, feature)))
                continue
            if current is None:
                current = ObjectSpec(path)
                settings.apply(current)
                if configure is not None:
                    configure(current)
            for p in current.programs.values():
                p.autoload = p.name == c.program
            try:
                obj = current.load()  # closes the spec on failure
            except BpfError as e:
                current = None
                skipped.append((c.program, e))
                continue
            current = None
            try:
                link = obj.programs[c.program].attach(**c.kwargs)
            except BpfError as e:
                obj.close()
                skipped.append((c.program, e))
                continue
            return AttachResult(obj, link, c.program, skipped)
    finally:
        if current is not None:
            with contextlib.suppress(BpfError):
                current.close()
    reasons = "; ".join(f"{name}: {why}" for name, why in skipped)
    raise BpfError(f"no candidate program could be attached ({reasons})")
