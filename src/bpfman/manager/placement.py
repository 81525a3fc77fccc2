"""Where a new program goes on a shared hook: pure functions over (link id, priority) lists."""

from __future__ import annotations


def tcx_insert(existing: list[tuple[int, int]], priority: int) -> tuple[str, int | None]:
    """Place a tcx program of *priority* among *existing* (link id, priority) in kernel order.

    Lower priority runs first; on a tie the program attached earlier stays first.
    Returns ("before", link id) to go in front of that link, ("after", link id)
    to follow it, or ("append", None) on an empty hook.
    """
    if not existing:
        return "append", None
    for link_id, prio in existing:
        if prio > priority:
            return "before", link_id
    return "after", existing[-1][0]


def order(existing: list[tuple[int, int]]) -> list[int]:
    """Link ids by (priority, attach order): the order the hook should run them in."""
    return [link_id for link_id, _ in sorted(existing, key=lambda e: (e[1], e[0]))]
