"""Build a dispatcher revision and swap it in: every change to a hook's programs is one.

``apply(hook, members, current)`` loads a new dispatcher with the members'
config, attaches each member's extension program to its slot, pins the
extensions and their links under the revision's directory, then swaps the
new dispatcher onto the hook (``dispatch.xdp`` / ``dispatch.tc``) and removes
the previous revision's pins. If anything fails before the swap, only the new
revision is torn down: the running chain is untouched.

A revision of one program that proceeds only on the chain's end verdict
(XDP's default) replaces the dispatcher's main function instead of ``prog0``,
as libxdp does: no dispatch cost, the same verdicts.

A member that was already in the running revision keeps its extension
program (found through the freplace link id the caller recorded for it): it
is reattached to the new dispatcher, as the kernel lets an extension replace
functions of several programs. A member joining the hook, or one whose
extension is gone, is loaded by its ``load`` callback.

Pins (``<bpffs>`` is the caller's bpffs root; XDP's follow libxdp's layout so
that ``LIBXDP_BPFFS=<bpffs> xdp-loader status`` lists the programs)::

    <bpffs>/xdp/dispatch-<ifindex>-<dispatcher prog id>/prog<i>-prog, prog<i>-link
    <bpffs>/xdp/link-<netns inode>-<ifindex>          the interface's XDP link
    <bpffs>/tc-<direction>/dispatch-<ifindex>-<dispatcher prog id>/prog<i>-prog, ...

XDP revisions change under libxdp's lock (``flock`` on ``<bpffs>/xdp``), so
that a concurrent ``xdp-loader status`` reads whole revisions.

Swapping attaches to the interface by index in the calling thread's network
namespace: callers enter the hook's namespace first.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from collections.abc import Iterator, Sequence

import bpfman
from bpfman.dispatch import config, tc, xdp
from bpfman.dispatch.hook import DISPATCHER_NAME, Hook, Member, State
from bpfman.errors import BpfError
from bpfman.link import Link
from bpfman.program import Program


def dispatcher_path(kind: str) -> str:
    """The shipped dispatcher object (compiled by ``make bpf`` into bpfman/data)."""
    data = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data")
    path = os.path.join(data, f"{kind}_dispatcher.bpf.o")
    if not os.path.exists(path):
        raise BpfError(f"{path} is missing: this pybpfman was built without its dispatchers")
    return path


def load_dispatcher(kind: str, ordered: Sequence[config.Slot]) -> Program:
    """A dispatcher (not attached) configured to run *ordered*; it owns its fd."""
    spec = bpfman.open(dispatcher_path(kind))
    with spec:
        spec.globals["conf"] = config.encode(kind, ordered)
        obj = spec.load()
    with obj:
        return Program.from_fd(os.dup(obj.programs[DISPATCHER_NAME[kind]].fd))


def apply(
    hook: Hook,
    members: Sequence[Member],
    current: State | None,
    *,
    xdp_mode: str = "drv",
    remove_qdisc: bool = True,
) -> State | None:
    """Make *members* the programs running on *hook*; None once the hook is empty.

    *remove_qdisc* (tc, last member gone): also remove the clsact qdisc if it
    was created for the dispatcher and nothing else uses it.
    """
    ordered = config.order(m.slot for m in members)
    config.check_capacity(len(ordered))
    if not ordered:
        if current is not None:
            teardown(hook, current, remove_qdisc=remove_qdisc)
        return None
    by_key = {m.slot.key: m for m in members}
    with load_dispatcher(hook.kind, ordered) as disp, _libxdp_lock(hook):
        new_dir = hook.revision_dir(disp.id)
        try:
            link_ids = _populate(hook, disp, ordered, by_key, current, new_dir)
            state = _swap(hook, disp, current, xdp_mode)
        except BaseException:
            remove_revision(new_dir)
            if current is None:
                with contextlib.suppress(OSError):
                    os.rmdir(hook.dir)
            raise
        if current is not None and current.dispatcher_id != disp.id:
            remove_revision(hook.revision_dir(current.dispatcher_id))
    return State(
        dispatcher_id=state.dispatcher_id,
        positions={s.key: i for i, s in enumerate(ordered)},
        link_ids=link_ids,
        tc_handle=state.tc_handle,
        qdisc_created=state.qdisc_created,
        mode=state.mode,
    )


@contextlib.contextmanager
def _libxdp_lock(hook: Hook) -> Iterator[None]:
    """libxdp's lock: it reads the pins under <bpffs>/xdp holding flock on that directory."""
    if hook.kind != "xdp":
        yield
        return
    os.makedirs(hook.dir, exist_ok=True)
    fd = os.open(hook.dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def running_extensions(revision_dir: str) -> dict[int, str]:
    """freplace link id -> pin of the extension it attaches, for a revision's pinned slots."""
    out: dict[int, str] = {}
    try:
        names = os.listdir(revision_dir)
    except FileNotFoundError:
        return out
    for name in names:
        if not name.endswith("-link"):
            continue
        try:
            with Link.from_pin(os.path.join(revision_dir, name)) as link:
                out[link.info().id] = os.path.join(revision_dir, name[: -len("link")] + "prog")
        except BpfError:
            continue
    return out


def _extension(reusable: dict[int, str], link_id: int | None) -> Program | None:
    """The extension behind freplace link *link_id* of the current revision, if still there."""
    pin = reusable.get(link_id) if link_id is not None else None
    if pin is None:
        return None
    try:
        return Program.from_pin(pin)
    except BpfError:
        return None


def _populate(
    hook: Hook,
    disp: Program,
    ordered: Sequence[config.Slot],
    by_key: dict[int, Member],
    current: State | None,
    new_dir: str,
) -> dict[int, int]:
    reusable = running_extensions(hook.revision_dir(current.dispatcher_id)) if current else {}
    os.makedirs(hook.dir, exist_ok=True)
    os.mkdir(new_dir)
    link_ids: dict[int, int] = {}
    whole = config.replaces_whole_dispatcher(hook.kind, ordered)
    for i, slot in enumerate(ordered):
        stub = DISPATCHER_NAME[hook.kind] if whole else f"prog{i}"
        pin = f"prog{i}"  # libxdp's names, also for a program replacing the main function
        member = by_key[slot.key]
        ext = _extension(reusable, current.link_ids.get(slot.key) if current else None)
        if ext is None:
            if member.load is None:
                raise BpfError(f"program {slot.name} (member {slot.key}): no extension to reattach")
            ext = member.load(disp, stub)
        with ext, ext.attach_freplace(disp, stub) as link:
            ext.pin(os.path.join(new_dir, f"{pin}-prog"))
            link.pin(os.path.join(new_dir, f"{pin}-link"))
            link_ids[slot.key] = link.info().id
    return link_ids


def _swap(hook: Hook, disp: Program, current: State | None, xdp_mode: str) -> State:
    if hook.kind == "xdp":
        return xdp.swap(hook, disp, current, xdp_mode)
    return tc.swap(hook, disp, current)


def teardown(hook: Hook, current: State, *, remove_qdisc: bool = True) -> None:
    """Remove the hook's dispatcher entirely (the last member left)."""
    with _libxdp_lock(hook):
        if hook.kind == "xdp":
            xdp.detach(hook)
        else:
            tc.detach(hook, current, remove_qdisc=remove_qdisc)
        remove_revision(hook.revision_dir(current.dispatcher_id))
        with contextlib.suppress(OSError):
            os.rmdir(hook.dir)  # only once no other hook's pins are left in it


def forget(hook: Hook, dispatcher_id: int) -> None:
    """Remove a hook's pins when its interface is gone (the kernel detached everything)."""
    with _libxdp_lock(hook):
        remove_revision(hook.revision_dir(dispatcher_id))
        if hook.kind == "xdp":
            with contextlib.suppress(FileNotFoundError):
                os.unlink(hook.xdp_link_pin)
        with contextlib.suppress(OSError):
            os.rmdir(hook.dir)


def remove_revision(path: str) -> None:
    """Unpin a revision's extensions and links (each link then detaches) and its directory.

    Never through a symlink: *path* is opened ``O_NOFOLLOW`` and its entries unlinked
    relative to that directory (a symlink in the place of *path* is left alone)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        return
    except OSError as e:
        if e.errno == errno.ELOOP:
            return
        raise
    try:
        for name in sorted(os.listdir(fd), key=lambda n: not n.endswith("-link")):
            with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                os.unlink(name, dir_fd=fd)
    finally:
        os.close(fd)
    with contextlib.suppress(OSError):  # gone, or holding something that is not ours
        os.rmdir(path)
