"""Undo stack: every kernel/pin step registers how to take it back; a failure unwinds them."""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import TracebackType

log = logging.getLogger("bpfman.manager")


class Undo:
    """``with Undo() as undo: ...; undo.push(fn)``; on an exception the steps run in reverse."""

    def __init__(self) -> None:
        self._steps: list[tuple[str, Callable[[], object]]] = []

    def push(self, what: str, fn: Callable[[], object]) -> None:
        self._steps.append((what, fn))

    def commit(self) -> None:
        """The operation succeeded: forget the undo steps."""
        self._steps.clear()

    def __enter__(self) -> Undo:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            return
        while self._steps:
            what, fn = self._steps.pop()
            try:
                fn()
            except Exception as e:  # undo must go on; doctor/gc repair what is left
                log.warning("undo %s failed: %s", what, e)
