"""The exceptions of pybpfman: one-line messages, with libbpf's log attached."""

from __future__ import annotations

import os

# `re` is imported where a log is parsed and ParsedLog is a plain class, not a dataclass: every
# bpfman command imports this module, and the read commands' fast path (bpfman.cli.fast) cannot
# afford either import at start-up

ENOTSUPP = 524  # the kernel-internal "operation not supported" (not in errno.h)


class BpfError(Exception):
    """An eBPF operation failed.

    ``str(err)`` is one line naming the cause (libbpf's decisive line, or the
    verifier's reason and source line). ``errno`` is the kernel/libbpf error
    number (0 if none), ``log`` what libbpf printed during the operation,
    including the verifier log when a program was rejected; an uncaught error
    shows the last lines of that log below its traceback; ``message`` is the
    whole text it was raised with (``str()`` is its first line).
    """

    def __init__(self, message: str, errno: int = 0, log: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.errno = errno
        self.log = log

    def __str__(self) -> str:
        return self.message.splitlines()[0] if self.message else ""

    @property
    def verifier_log(self) -> str:
        """The part of ``log`` between libbpf's BEGIN/END PROG LOAD LOG markers."""
        return "\n".join(parse_log(self.log).verifier)


class InputError(BpfError, ValueError):
    """Bad user input: the CLI exits 1 (the operation failed, as upstream's), the daemon
    answers INVALID_ARGUMENT."""


class UsageError(InputError):
    """Options that cannot go together: a command-line syntax error (CLI exit 2, as
    click's own)."""


class UnknownName(BpfError, KeyError):
    """No program, map or variable by that name; the message lists the known ones.

    A ``KeyError`` too, so mappings keep their contract (``in``, ``.get``).
    """

    def __str__(self) -> str:
        return BpfError.__str__(self)


class KernelFeatureError(BpfError):
    """The running kernel cannot do what was asked; ``feature`` names what is missing."""

    def __init__(self, message: str, feature: str, errno: int = 0, log: str = "") -> None:
        super().__init__(message, errno=errno, log=log)
        self.feature = feature


class ParsedLog:
    """libbpf's messages of one operation, split in one pass."""

    __slots__ = ("libbpf", "prog", "verifier")

    def __init__(self, prog: str, verifier: list[str], libbpf: list[str]) -> None:
        self.prog = prog  # the program whose verifier log is in it ("" if none)
        self.verifier = verifier  # the verifier log's lines
        self.libbpf = libbpf  # libbpf's own lines (without "libbpf: "), outside the verifier log


def parse_log(text: str) -> ParsedLog:
    """Split libbpf's captured *text* into the verifier log and libbpf's own lines."""
    import re

    prog = ""
    verifier: list[str] = []
    own: list[str] = []
    inside = False
    for raw in text.splitlines():
        line = raw.strip()
        if "BEGIN PROG LOAD LOG" in line:
            inside = True
            m = re.search(r"prog '([^']+)'", line)
            prog = m.group(1) if m else prog
            continue
        if "END PROG LOAD LOG" in line:
            inside = False
            continue
        if inside:
            verifier.append(raw)
        elif line:
            own.append(line.removeprefix("libbpf: "))
    return ParsedLog(prog, verifier, own)


# libbpf lines that only repeat that something failed: the decisive line is another one
_ECHOES = (
    "failed to load object",
    "failed to load:",
    "BPF program load failed",
    "failed to load program",
    "failed to create:",
    "error reusing pinned map",
    "failed to auto-pin",
    "ulimit -l",
    "memlock",
)
# libbpf's wording -> what it means for the caller
_REWRITES: tuple[tuple[str, str], ...] = (
    (
        r"failed to mkdir (?P<path>\S+): (?P<why>.+)",
        "cannot create the directory of pin path {path}: {why}",
    ),
    (
        r"specified path (?P<path>\S+) is not on BPF FS",
        "pin path {path} is not on a BPF filesystem (bpffs, e.g. under /sys/fs/bpf)",
    ),
    (
        r"couldn't reuse pinned map at '(?P<path>[^']+)': parameter mismatch",
        "the map pinned at {path} differs from this one (type, key/value size, max_entries"
        " or flags): parameter mismatch",
    ),
)


def decisive_line(lines: list[str]) -> str:
    """The libbpf line that names the cause: the first that is not an echo of the failure."""
    import re

    for line in lines:
        if any(echo in line for echo in _ECHOES):
            continue
        line = line.removeprefix("Kernel error message: ")  # the kernel's extack
        for pattern, text in _REWRITES:
            m = re.search(pattern, line)
            if m:
                return text.format(**m.groupdict())
        return line[:300]
    return ""


def from_errno(what: str, err: int, log: list[str] | None = None) -> BpfError:
    """A ``BpfError`` for a failed libbpf call; *err* may be negative (libbpf style)."""
    err = abs(err)
    text = "".join(log or [])
    reason = _strerror(err)
    parsed = parse_log(text)
    prog, verdict = verifier_verdict(text)
    if verdict:
        where = source_line(parsed.verifier)
        at = f" at {where[0]} ({where[1]})" if where else ""
        error = BpfError(
            f"{what}: program {prog!r} rejected by the verifier{at}: {verdict} ({reason})",
            errno=err,
            log=text,
        )
        _note(error, "verifier log, last lines (all of it: err.verifier_log)", parsed.verifier)
        return error
    cause = decisive_line(parsed.libbpf)
    msg = f"{what}: {cause or reason}"
    if cause and reason.lower() not in cause.lower():
        msg += f" ({reason})"
    error = BpfError(msg, errno=err, log=text)
    _note(error, "libbpf said (all of it: err.log)", parsed.libbpf)
    return error


def _note(error: BpfError, title: str, lines: list[str], last: int = 12) -> None:
    """Show the log's last lines under an uncaught error's traceback (``str()`` stays one line)."""
    if lines:
        error.add_note(f"{title}:\n" + "\n".join(f"    {x}" for x in lines[-last:]))


def _strerror(err: int) -> str:
    if not err:
        return "failed"
    if err >= 4000:  # libbpf's own error numbers (LIBBPF_ERRNO__*)
        from bpfman import _libbpf

        return _libbpf.strerror(err)
    return os.strerror(err)


_INSN = r"^\d+: "
_SOURCE = r"^; (?P<code>.*?) @ (?P<file>\S+):(?P<line>\d+)$"
_NOISE = ("processed ", "verification time", "stack depth", "arg#", "func#", "Validating ")


def source_line(verifier: list[str]) -> tuple[str, str] | None:
    """("file.c:20", "the C line") the verifier stopped at: its last source comment."""
    import re

    for raw in reversed(verifier):
        m = re.match(_SOURCE, raw.strip())
        if m and m.group("line") != "0":
            return f"{m.group('file')}:{m.group('line')}", m.group("code").strip()[:80]
    return None


def verifier_verdict(text: str) -> tuple[str, str]:
    """(program name, the verifier's reason) from libbpf's log of a failed load.

    The reason is every line after the last instruction the verifier walked
    (``invalid access to map value, value_size=8 off=8 size=8``, then any
    explanation that follows), joined with "; ".
    """
    import re

    parsed = parse_log(text)
    lines = [x.strip() for x in parsed.verifier]
    lines = [x for x in lines if x and not x.startswith((";", *_NOISE))]
    last_insn = max((i for i, x in enumerate(lines) if re.match(_INSN, x)), default=-1)
    tail = lines[last_insn + 1 :]
    verdict = "; ".join(tail) if tail else (lines[-1] if lines else "")
    return parsed.prog, verdict[:300]

