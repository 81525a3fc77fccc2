"""The verdicts a dispatcher slot can proceed on: bpfman's ``--proceed-on`` words and numbers.

Per hook (``"xdp"``, ``"tc"``: the dispatcher kinds of ``config``), the hook's
return codes plus the stub's sentinel (what a slot returns when no program
replaced it: the chain always goes on from it), with the numbers the gRPC
API carries. ``config`` encodes them into a dispatcher's chain masks; the
manager parses and shows the words.

Pure data importing nothing: ``get link`` on the CLI's fast path shows the words
without loading the dispatcher machinery (``bpfman.dispatch`` is lazy).
"""

from __future__ import annotations

XDP_VERDICTS = {"aborted": 0, "drop": 1, "pass": 2, "tx": 3, "redirect": 4, "dispatcher_return": 31}
TC_VERDICTS = {
    "unspec": -1,
    "ok": 0,
    "reclassify": 1,
    "shot": 2,
    "pipe": 3,
    "stolen": 4,
    "queued": 5,
    "repeat": 6,
    "redirect": 7,
    "trap": 8,
    "dispatcher_return": 30,
}
# hook -> its verdicts by word
VERDICTS = {"xdp": XDP_VERDICTS, "tc": TC_VERDICTS}
# what a slot proceeds on when --proceed-on is not given
DEFAULT_PROCEED_ON = {"xdp": ("pass", "dispatcher_return"), "tc": ("pipe", "dispatcher_return")}


def names(hook: str, values: list[int]) -> list[str]:
    """The words of verdict numbers *values* of *hook* (a number it lacks as itself)."""
    words = {v: w for w, v in VERDICTS[hook].items()}
    return [words.get(v, str(v)) for v in values]
