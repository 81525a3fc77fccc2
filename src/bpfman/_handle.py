"""The one fd-handle base of ``Program``, ``Map`` and ``Link``: fd liveness, close, pins.

A handle holds a kernel object's fd. It either owns the fd (closed by
``close()``, the ``with`` block's end, or when the handle is garbage
collected) or borrows it from an owner (an ``Object``: the fd is live while the
owner is open). ``pin(path)`` remembers where it pinned; ``unpin()`` removes
that pin (or the one at *path*); ``disown()`` hands the fd to the caller.
"""

from __future__ import annotations

import os
import weakref
from typing import TYPE_CHECKING, Any

from bpfman import _sys
from bpfman.errors import BpfError

if TYPE_CHECKING:
    from typing import Self


class FdHandle:
    """A kernel object held by an fd (see the module docstring)."""

    _fd: int
    _finalizer: weakref.finalize[Any, Any] | None = None  # set when the handle owns the fd
    _owner_fin: weakref.finalize[Any, Any] | None = None  # the owner's (no strong reference)
    pin_path: str | None = None
    _missing_pin_ok = False  # Link: a pin already removed is not an error on unpin

    def _init_handle(
        self,
        fd: int,
        *,
        owns_fd: bool = True,
        owner_finalizer: weakref.finalize[Any, Any] | None = None,
        pin_path: str | None = None,
    ) -> None:
        """*owner_finalizer*: the owning Object's, alive while it is open (borrowed fds)."""
        self._fd = fd
        self._owner_fin = owner_finalizer
        self.pin_path = pin_path
        self._finalizer = weakref.finalize(self, os.close, fd) if owns_fd else None

    def _label(self) -> str:
        """How messages name this object ("program x", "map y", "link z")."""
        return type(self).__name__.lower()

    @property
    def fd(self) -> int:
        """The file descriptor (an error once this handle or its owner is closed)."""
        if self._owner_fin is not None and not self._owner_fin.alive:
            raise BpfError(f"{self._label()}: its object is closed")
        if self._finalizer is not None and not self._finalizer.alive:
            raise BpfError(f"{self._label()} is closed")
        return self._fd

    @property
    def closed(self) -> bool:
        """True once ``close()`` or ``disown()`` ran, or the owning Object closed."""
        if self._owner_fin is not None and not self._owner_fin.alive:
            return True
        return self._finalizer is not None and not self._finalizer.alive

    def close(self) -> None:
        """Close the fd if this handle owns it (a borrowed one closes with its Object)."""
        if self._finalizer is not None:
            self._finalizer()

    def disown(self) -> None:
        """Leave the kernel object in place past this handle: its fd stays open for the rest
        of the process (a link stays attached), and the handle counts as closed."""
        if self._finalizer is not None:
            self._finalizer.detach()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ pins

    @property
    def is_pinned(self) -> bool:
        """Whether this handle pinned the object (or was opened from a pin) and it is still
        there."""
        return bool(self.pin_path) and os.path.exists(self.pin_path or "")

    def pin(self, path: str) -> None:
        """Pin at *path* (on a BPF filesystem): the object outlives this process until
        unpinned. The path is remembered for ``unpin()``."""
        _sys.obj_pin(self.fd, path)
        self.pin_path = path

    def unpin(self, path: str | None = None) -> None:
        """Remove the pin at *path* (default: where this handle pinned it or was opened from)."""
        target = path or self.pin_path
        if not target:
            raise BpfError(f"{self._label()} is not pinned")
        try:
            os.unlink(target)
        except FileNotFoundError:
            if not self._missing_pin_ok:
                raise BpfError(f"nothing pinned at {target}") from None
        if target == self.pin_path:
            self.pin_path = None
