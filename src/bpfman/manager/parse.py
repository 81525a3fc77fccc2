"""Parsing and validation of the manager's user input: pure functions, no kernel."""

from __future__ import annotations

from bpfman.dispatch import verdicts
from bpfman.errors import InputError
from bpfman.manager.models import BpfmanType, ProgramRequest
from bpfman.manager.typetable import LOAD_WORDS, TYPES


def program_requests(entries: list[str]) -> list[ProgramRequest]:
    """``TYPE:NAME[:ATTACH]`` entries (each may hold several, space separated)."""
    out: list[ProgramRequest] = []
    words = [w for e in entries for w in e.split()]
    if not words:
        raise InputError("--programs needs at least one TYPE:NAME")
    for word in words:
        parts = word.split(":")
        if len(parts) < 2 or not parts[1]:
            raise InputError(f"--programs {word!r}: expected TYPE:NAME[:ATTACH]")
        kind_word, name = parts[0], parts[1]
        if kind_word not in LOAD_WORDS:
            known = ", ".join(LOAD_WORDS)
            raise InputError(f"--programs {word!r}: unknown type {kind_word!r} (one of {known})")
        number, ret = LOAD_WORDS[kind_word]
        kind = BpfmanType(number)
        attach = ":".join(parts[2:]) or None
        if TYPES[kind].attach_type:  # fentry/fexit: the kernel function is the load's
            if not attach:
                raise InputError(f"--programs {word!r}: {kind_word} needs the kernel function")
        elif attach:
            raise InputError(f"--programs {word!r}: only fentry/fexit take an attach function")
        if any(r.name == name for r in out):
            raise InputError(f"--programs: program {name!r} given twice")
        out.append(ProgramRequest(kind, name, ret, attach))
    return out


def global_data(entries: list[str]) -> dict[str, bytes]:
    """``NAME=HEX`` entries: raw bytes, hex without 0x, even length."""
    out: dict[str, bytes] = {}
    for e in entries:
        name, sep, hexval = e.partition("=")
        if not sep or not name:
            raise InputError(f"--global {e!r}: expected NAME=HEX")
        if hexval.lower().startswith("0x"):
            raise InputError(f"--global {e!r}: give the hex bytes without 0x")
        if len(hexval) % 2:
            raise InputError(f"--global {e!r}: odd number of hex digits")
        try:
            out[name] = bytes.fromhex(hexval)
        except ValueError:
            raise InputError(f"--global {e!r}: not hex") from None
        if not out[name]:
            raise InputError(f"--global {e!r}: empty value")
    return out


def metadata(entries: list[str], what: str = "--metadata") -> dict[str, str]:
    """``KEY=VALUE`` entries, each possibly comma separated."""
    out: dict[str, str] = {}
    for e in entries:
        for item in e.split(","):
            item = item.strip()
            if not item:
                continue
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise InputError(f"{what} {item!r}: expected KEY=VALUE")
            out[key.strip()] = value.strip()
    return out


def tracepoint(value: str) -> tuple[str, str]:
    parts = value.split("/")
    if len(parts) != 2 or not all(parts):
        raise InputError(f"--tracepoint {value!r}: expected GROUP/NAME (exactly one '/')")
    return parts[0], parts[1]


def proceed_on(kind: BpfmanType, words: list[str]) -> list[int]:
    """``--proceed-on`` words (or numbers) of an xdp or tc attach -> the API's numbers; empty
    -> the hook's default."""
    hook = TYPES[kind].dispatcher
    assert hook is not None, kind
    table = verdicts.VERDICTS[hook]
    flat = [w for e in words for w in e.replace(",", " ").split()]
    out: list[int] = []
    for w in flat or verdicts.DEFAULT_PROCEED_ON[hook]:
        if w in table:
            v = table[w]
        else:
            try:
                v = int(w)
            except ValueError:
                known = ", ".join(table)
                raise InputError(f"--proceed-on {w!r}: one of {known}") from None
            if v not in table.values():
                raise InputError(f"--proceed-on {w!r}: not a valid action number")
        if v not in out:
            out.append(v)
    return out


def priority(value: int) -> int:
    if not 1 <= value <= 1000:
        raise InputError(f"--priority {value}: must be 1..1000")
    return value


def direction(value: str) -> str:
    if value not in ("ingress", "egress"):
        raise InputError(f"--direction {value!r}: ingress or egress")
    return value


def lock_timeout(text: str | None, default: float = 30.0) -> float:
    """``BPFMAN_LOCK_TIMEOUT``: seconds (> 0, finite); unset or empty: *default*."""
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise InputError(f"BPFMAN_LOCK_TIMEOUT={text[:40]!r}: give a number of seconds")
    return value

