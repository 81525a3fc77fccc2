"""``doctor`` and ``gc``: find and repair disagreements between the DB, bpffs pins and kernel.

``inspect`` gathers the three views; ``find_problems`` is a pure function over
them (unit-tested without root); ``gc`` applies each problem's repair. A kernel
object is touched only through a pin in bpfman's own bpffs, never by id, so an
id reused by someone else is never harmed.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from bpfman.attach import tc
from bpfman.dispatch import tc as tc_dispatcher
from bpfman.dispatch.hook import DISPATCHER_NAME
from bpfman.dispatch.revision import remove_revision
from bpfman.errors import BpfError
from bpfman.kinds import LinkType
from bpfman.link import Link, LinkInfo
from bpfman.manager import attacher, dispatchers, hooks, intent, safety
from bpfman.manager.hooks import Updates, in_netns
from bpfman.manager.models import BpfmanType, LinkRecord
from bpfman.program import Program

if TYPE_CHECKING:
    from bpfman.manager.core import Manager
    from bpfman.manager.lock import WriterScope


class FilterKey(NamedTuple):
    """A tc filter, as the doctor compares them (netns "" is bpfman's own)."""

    netns: str
    ifindex: int
    direction: str
    priority: int
    handle: int


@dataclass(frozen=True)
class StoredLink:
    """A link as the database records it."""

    program_id: int
    kernel_link_id: int | None
    pin_path: str | None
    kernel_link: bool  # a pinned kernel link of its own (not a tc filter or dispatcher member)


@dataclass(frozen=True)
class MemberSlot:
    """Where a dispatcher member's freplace link should be: its revision's slot pin."""

    pin: str
    kernel_link_id: int | None  # the one the database records


@dataclass(frozen=True)
class Problem:
    kind: str  # a stable identifier, e.g. "orphan-program-pin"
    subject: str  # a path or "program N" / "link N"
    detail: str
    program_id: int | None = None
    link_id: int | None = None
    path: str | None = None  # a pin or directory the problem is about
    filter: FilterKey | None = None  # the tc filter the problem is about

    def describe(self) -> str:
        return f"{self.subject}: {self.detail}"


@dataclass
class State:
    """The three views: DB rows, bpffs pins (with the kernel ids behind them)."""

    db_programs: dict[int, str] = field(default_factory=dict)  # id -> tag
    db_map_owners: set[int] = field(default_factory=set)
    map_dir_users: dict[int, set[int]] = field(default_factory=dict)  # maps/<id> -> programs
    db_links: dict[int, StoredLink] = field(default_factory=dict)
    prog_pins: dict[int, str | None] = field(default_factory=dict)  # prog id -> tag (None: bad)
    map_dirs: set[int] = field(default_factory=set)
    link_pins: dict[int, int | None] = field(default_factory=dict)  # link id -> kernel link id
    detached_links: set[int] = field(default_factory=set)  # pinned, detached from their hook
    # tc filters running a bpfman program: (netns path or "", ifindex, direction, prio, handle)
    tc_filters: dict[FilterKey, int] = field(default_factory=dict)
    db_tc_links: dict[int, FilterKey] = field(default_factory=dict)
    db_members: dict[int, MemberSlot] = field(default_factory=dict)  # dispatchers' links
    member_pins: dict[int, int] = field(default_factory=dict)  # link id -> kernel link id pinned
    revision_dirs: set[str] = field(default_factory=set)  # dispatch-* dirs in bpffs
    db_revision_dirs: set[str] = field(default_factory=set)
    xdp_link_pins: set[str] = field(default_factory=set)  # an interface's dispatcher link
    db_xdp_link_pins: set[str] = field(default_factory=set)
    dispatcher_filters: dict[FilterKey, int] = field(default_factory=dict)
    db_dispatcher_filters: set[FilterKey] = field(default_factory=set)
    db_dispatcher_filter_links: dict[FilterKey, int] = field(
        default_factory=dict
    )  # a recorded dispatcher filter -> one member link of its hook
    interfaces: set[tuple[str, int]] = field(default_factory=set)  # (netns, ifindex) scanned
    intents: dict[int, str] = field(default_factory=dict)  # link id -> netns (intent.py)
    # entries named like bpfman's that bpfman did not make (symlinks, other owners, wrong
    # type: planted by someone else): path -> why; reported, never acted on
    foreign: dict[str, str] = field(default_factory=dict)


# a link's attach point in its info, zero once the link was detached (bpftool link detach,
# its interface or cgroup gone); links of other types have no detach
DETACHED_WHEN_ZERO = {
    LinkType.XDP: "ifindex",
    LinkType.TCX: "ifindex",
    LinkType.NETKIT: "ifindex",
    LinkType.CGROUP: "cgroup_id",
    LinkType.NETNS: "netns_ino",
}


def is_detached(info: LinkInfo) -> bool:
    """Whether a (pinned) kernel link no longer runs its program on any hook."""
    key = DETACHED_WHEN_ZERO.get(info.type) if isinstance(info.type, LinkType) else None
    return key is not None and info.details.get(key) == 0


# the names bpfman gives its bpffs entries: nothing else there is looked at or touched
PROG_PIN = re.compile(r"prog_[0-9]+")
NUMBER = re.compile(r"[0-9]+")
REVISION_DIR = re.compile(r"dispatch-[0-9]+-[0-9]+")
XDP_LINK_PIN = re.compile(r"link-[0-9]+-[0-9]+")


def _entries(
    st: State, root: str, pattern: re.Pattern[str], *, directory: bool
) -> list[tuple[str, str]]:
    """(name, path) of the entries of *root* named by *pattern* that bpfman made; the others
    with such a name go to ``st.foreign``."""
    try:
        names = os.listdir(root) if safety.is_own(root, directory=True) else []
    except FileNotFoundError:
        return []
    out = []
    for name in sorted(names):
        if not pattern.fullmatch(name):
            continue
        path = os.path.join(root, name)
        why = safety.foreign_reason(path, directory=directory)
        if why:
            st.foreign[path] = why
        else:
            out.append((name, path))
    return out


def inspect(mgr: Manager) -> State:
    st = State()
    for prog_rec in mgr.store.programs():
        st.db_programs[prog_rec.id] = prog_rec.tag
        owner_dir = os.path.basename(prog_rec.map_pin_path)  # maps/<id>: in use by this one
        if owner_dir.isdigit():
            st.db_map_owners.add(int(owner_dir))
            st.map_dir_users.setdefault(int(owner_dir), set()).add(prog_rec.id)

    for rec in mgr.store.links():
        member = dispatchers.is_member(rec)
        if member:
            _inspect_member(mgr, rec, st)
        elif rec.kind == BpfmanType.TC and rec.net is not None and rec.net.filter is not None:
            hook, filt = rec.net.hook, rec.net.filter
            st.db_tc_links[rec.id] = FilterKey(
                hook.netns or "",
                int(hook.ifindex or 0),
                str(hook.direction),
                filt.priority,
                filt.handle,
            )
        st.db_links[rec.id] = StoredLink(
            rec.program_id,
            rec.kernel_link_id,
            rec.pin_path,
            kernel_link=rec.kind != BpfmanType.TC and not member,
        )
    fs = mgr.paths.fs
    for name, path in _entries(st, fs, PROG_PIN, directory=False):
        try:
            with Program.from_pin(path) as prog:
                st.prog_pins[int(name[5:])] = prog.info().tag
        except BpfError:
            st.prog_pins[int(name[5:])] = None
    for name, _ in _entries(st, os.path.join(fs, "maps"), NUMBER, directory=True):
        st.map_dirs.add(int(name))
    for name, path in _entries(st, os.path.join(fs, "links"), NUMBER, directory=False):
        try:
            with Link.from_pin(path) as link:
                info = link.info()
                st.link_pins[int(name)] = info.id
                if is_detached(info):
                    st.detached_links.add(int(name))
        except BpfError:
            st.link_pins[int(name)] = None
    for sub in ("xdp", "tc-ingress", "tc-egress"):
        root = os.path.join(fs, sub)
        if not safety.is_own(root, directory=True):
            if os.path.lexists(root):
                st.foreign[root] = safety.foreign_reason(root, directory=True)
            continue
        for _, path in _entries(st, root, REVISION_DIR, directory=True):
            st.revision_dirs.add(path)
        if sub == "xdp":
            for _, path in _entries(st, root, XDP_LINK_PIN, directory=False):
                st.xdp_link_pins.add(path)

    # a tc dispatcher is ours if a revision dir of ours (dispatch-<ifindex>-<prog id>) or the
    # database names it: other managers (bpfman itself) use the same name and priority
    ours = {int(d.rsplit("-", 1)[1]) for d in st.revision_dirs if d.rsplit("-", 1)[1].isdigit()}
    st.intents = intent.pending(mgr.paths)
    namespaces = {""} | {key.netns for key in st.db_tc_links.values()}
    namespaces |= {ns for lid, ns in st.intents.items() if lid not in st.db_links}
    namespaces |= {key.netns for key in st.db_dispatcher_filters}
    for ns in sorted(namespaces):
        for key, prog_id in tc_filters(ns, st.interfaces).items():
            if prog_id in st.db_programs:
                st.tc_filters[key] = prog_id
            elif (
                key.priority == tc_dispatcher.PRIORITY
                and (prog_id in ours or key in st.db_dispatcher_filters)
                and _is_tc_dispatcher(prog_id)
            ):
                st.dispatcher_filters[key] = prog_id
    return st


def _inspect_member(mgr: Manager, rec: LinkRecord, st: State) -> None:
    """What a dispatcher member link needs: its revision's dir and slot pin, its hook's link."""
    net = rec.net
    if net is None or net.dispatcher is None:
        return
    hook = dispatchers.hook_of(mgr, rec.kind, net.hook)
    revision_dir = hook.revision_dir(net.dispatcher.dispatcher_id)
    pin = os.path.join(revision_dir, f"prog{int(net.position or 0)}-link")
    st.db_members[rec.id] = MemberSlot(pin, rec.kernel_link_id)
    st.db_revision_dirs.add(revision_dir)
    if hook.kind == "xdp":
        st.db_xdp_link_pins.add(hook.xdp_link_pin)
    else:
        handle = net.dispatcher.tc_handle
        ns = net.hook.netns or ""
        key = FilterKey(ns, hook.ifindex, hook.direction, tc_dispatcher.PRIORITY, handle)
        st.db_dispatcher_filters.add(key)
        st.db_dispatcher_filter_links.setdefault(key, rec.id)
    if safety.is_own(pin, directory=False):
        with contextlib.suppress(BpfError), Link.from_pin(pin) as link:
            st.member_pins[rec.id] = link.info().id


def _is_tc_dispatcher(prog_id: int) -> bool:
    try:
        with Program.from_id(prog_id) as prog:
            return prog.name == DISPATCHER_NAME["tc"]
    except BpfError:
        return False


def tc_filters(
    netns_path: str, interfaces: set[tuple[str, int]] | None = None
) -> dict[FilterKey, int]:
    """Every bpf tc filter in a network namespace ("" = ours) -> the program id it runs;
    *interfaces* collects (netns_path, ifindex) of every interface seen."""
    from pyroute2 import IPRoute

    out: dict[FilterKey, int] = {}
    if netns_path and not os.path.exists(netns_path):
        return out
    with in_netns(netns_path or None), IPRoute() as ipr:
        for link in ipr.get_links():
            if interfaces is not None:
                interfaces.add((netns_path, link["index"]))
            for direction, parent in (("ingress", 0xFFFFFFF2), ("egress", 0xFFFFFFF3)):
                try:
                    filters = ipr.get_filters(index=link["index"], parent=parent)
                except Exception:  # no clsact qdisc on this interface
                    continue
                for f in filters:
                    opts = f.get_attr("TCA_OPTIONS")
                    name = (opts.get_attr("TCA_BPF_NAME") if opts else None) or ""
                    if f.get_attr("TCA_KIND") != "bpf" or not name.endswith("]"):
                        continue
                    prog_id = int(name[name.rindex("[") + 1 : -1])
                    key = FilterKey(
                        netns_path, link["index"], direction, f["info"] >> 16, f["handle"]
                    )
                    out[key] = prog_id
    return out


def find_problems(st: State, fs: str) -> list[Problem]:
    out: list[Problem] = []
    for pid, tag in sorted(st.db_programs.items()):
        pin = os.path.join(fs, f"prog_{pid}")
        if pid not in st.prog_pins:
            out.append(
                Problem(
                    "program-pin-missing",
                    f"program {pid}",
                    f"in the database but its pin {pin} is missing",
                    program_id=pid,
                )
            )
        elif st.prog_pins[pid] != tag:
            out.append(
                Problem(
                    "program-pin-mismatch",
                    f"program {pid}",
                    f"the program pinned at {pin} is not the one the database records",
                    program_id=pid,
                    path=pin,
                )
            )
    for pid in sorted(set(st.prog_pins) - set(st.db_programs)):
        pin = os.path.join(fs, f"prog_{pid}")
        out.append(
            Problem(
                "orphan-program-pin",
                pin,
                f"program {pid} is pinned but not in the database (an interrupted load?)",
                program_id=pid,
                path=pin,
            )
        )
    for owner in sorted(st.db_map_owners - st.map_dirs):
        users = sorted(st.map_dir_users.get(owner, set()) & set(st.prog_pins))
        if users:  # (programs without their pins are reported above)
            path = os.path.join(fs, "maps", str(owner))
            out.append(
                Problem(
                    "map-dir-missing",
                    f"program {users[0]}",
                    f"its maps directory {path} is gone",
                    program_id=owner,
                    path=path,
                )
            )
    for owner in sorted(st.map_dirs - st.db_map_owners - set(st.db_programs)):
        path = os.path.join(fs, "maps", str(owner))
        out.append(
            Problem(
                "orphan-map-dir",
                path,
                f"maps of program {owner}, which is not in the database",
                path=path,
            )
        )
    for lid, link in sorted(st.db_links.items()):
        pid, kernel_id, link_pin = link.program_id, link.kernel_link_id, link.pin_path
        is_kernel_link = link.kernel_link
        if pid not in st.db_programs:
            out.append(
                Problem(
                    "link-without-program", f"link {lid}", f"its program {pid} is gone", link_id=lid
                )
            )
        elif is_kernel_link and (link_pin is None or lid not in st.link_pins):
            out.append(
                Problem(
                    "link-pin-missing",
                    f"link {lid}",
                    f"in the database but its pin {link_pin} is missing",
                    link_id=lid,
                )
            )
        elif is_kernel_link and lid in st.detached_links:
            out.append(
                Problem(
                    "link-detached",
                    f"link {lid}",
                    f"its pinned kernel link {kernel_id} was detached from its hook",
                    link_id=lid,
                    path=link_pin,
                )
            )
        elif is_kernel_link and st.link_pins.get(lid) != kernel_id:
            out.append(
                Problem(
                    "link-pin-mismatch",
                    f"link {lid}",
                    f"pinned kernel link {st.link_pins.get(lid)} is not the recorded {kernel_id}",
                    link_id=lid,
                    path=link_pin,
                )
            )
    recorded = set(st.db_tc_links.values())
    for key, prog_id in sorted(st.tc_filters.items()):
        if key not in recorded:
            out.append(
                _filter_problem(
                    "orphan-tc-filter",
                    key,
                    prog_id,
                    f"runs bpfman program {prog_id}, no link records it (interrupted attach?)",
                )
            )
    for lid, key in sorted(st.db_tc_links.items()):
        stored = st.db_links.get(lid)
        if key not in st.tc_filters and stored and stored.program_id in st.db_programs:
            out.append(
                Problem(
                    "tc-filter-missing",
                    f"link {lid}",
                    "its tc filter is gone from the kernel",
                    link_id=lid,
                )
            )
    out += _dispatcher_problems(st)
    for lid, ns in sorted(st.intents.items()):
        if lid not in st.db_links:  # (its filter, if the kernel got it, is reported above)
            out.append(
                Problem(
                    "stale-attach-intent",
                    f"link {lid}",
                    f"an attach in {ns} was interrupted (the namespace is scanned)",
                    link_id=lid,
                )
            )
    for path, why in sorted(st.foreign.items()):
        out.append(
            Problem("foreign-entry", path, f"not made by bpfman: it {why} (left alone)", path=path)
        )
    for lid in sorted(set(st.link_pins) - set(st.db_links)):
        path = os.path.join(fs, "links", str(lid))
        out.append(
            Problem(
                "orphan-link-pin",
                path,
                "a pinned link not in the database (an interrupted attach?)",
                link_id=lid,
                path=path,
            )
        )
    return out


def _dispatcher_problems(st: State) -> list[Problem]:
    out: list[Problem] = []
    for lid, slot in sorted(st.db_members.items()):
        pin, kernel_id = slot.pin, slot.kernel_link_id
        if st.member_pins.get(lid) != kernel_id:
            out.append(
                Problem(
                    "dispatcher-member-missing",
                    f"link {lid}",
                    f"its dispatcher slot {pin} does not hold its kernel link {kernel_id}",
                    link_id=lid,
                    path=pin,
                )
            )
    # before the stale revisions: the revision dir is what shows the filter is ours, so gc
    # removes the filter first (an interrupted gc finds it again)
    for key, prog_id in sorted(st.dispatcher_filters.items()):
        if key not in st.db_dispatcher_filters:
            out.append(
                _filter_problem(
                    "orphan-dispatcher-filter",
                    key,
                    prog_id,
                    f"runs tc dispatcher {prog_id}, which no link records",
                )
            )
    for key, lid in sorted(st.db_dispatcher_filter_links.items()):
        # (an interface that is gone took the filter with it: nothing to run it on)
        if key not in st.dispatcher_filters and (key.netns, key.ifindex) in st.interfaces:
            out.append(
                Problem(
                    "dispatcher-filter-missing",
                    f"link {lid}",
                    "its hook's tc dispatcher filter is gone from the kernel",
                    link_id=lid,
                )
            )
    for path in sorted(st.revision_dirs - st.db_revision_dirs):
        out.append(
            Problem(
                "stale-dispatcher-revision",
                path,
                "a dispatcher revision no link runs in (an interrupted attach/detach?)",
                path=path,
            )
        )
    for path in sorted(st.xdp_link_pins - st.db_xdp_link_pins):
        out.append(
            Problem("orphan-dispatcher-link", path, "an XDP dispatcher no link runs in", path=path)
        )
    return out


def _filter_problem(kind: str, key: FilterKey, prog_id: int, why: str) -> Problem:
    """A tc filter no link records."""
    where = f" in {key.netns}" if key.netns else ""
    return Problem(
        kind,
        f"tc {key.direction} filter {key.priority}:{key.handle:#x} on ifindex {key.ifindex}{where}",
        why,
        program_id=prog_id,
        filter=key,
    )


def doctor(mgr: Manager) -> list[Problem]:
    """What disagrees, read under the writer lock: a consistent view, not a change half
    made by a concurrent writer."""
    with mgr.writing():
        return _doctor(mgr)


def _doctor(mgr: Manager) -> list[Problem]:
    return find_problems(inspect(mgr), mgr.paths.fs)


def _repin_maps(mgr: Manager, owner: int, path: str) -> str:
    """Pin again, in a new *path* (maps/<owner>), the maps the kernel still holds for the
    programs using it (by the kernel's map names: up to 15 characters)."""
    from bpfman.manager.paths import pin_name
    from bpfman.map import Map

    map_ids: set[int] = set()
    for prog_id in mgr.store.map_users(path):
        with contextlib.suppress(BpfError), Program.from_pin(mgr.paths.prog_pin(prog_id)) as p:
            map_ids |= set(p.info().map_ids)
    if os.path.lexists(path):  # something bpfman did not make (reported as foreign)
        return f"left {path} alone: it is not bpfman's"
    os.mkdir(path, 0o700)
    for map_id in sorted(map_ids):
        with contextlib.suppress(BpfError), Map.from_id(map_id) as m:
            m.pin(os.path.join(path, pin_name(m.name)))
    return f"pinned the {len(map_ids)} maps of program {owner} again in {path}"


def gc(mgr: Manager) -> list[str]:
    """Repair every problem doctor finds; returns one line per repair."""
    done: list[str] = []
    rebuilt: set[tuple[object, ...]] = set()
    fs = mgr.paths.fs
    with mgr.writing() as scope:
        problems = _doctor(mgr)
        for p in problems:
            if p.kind == "foreign-entry":
                continue  # not ours: never touched
            if p.kind == "stale-attach-intent":
                continue  # cleared last: the filters it led to go first
            if p.kind == "orphan-program-pin":
                assert p.path
                if safety.remove_own_file(fs, p.path):
                    done.append(f"removed {p.path}")
            elif p.kind == "orphan-map-dir":
                assert p.path
                if safety.remove_own_tree(fs, p.path):
                    done.append(f"removed {p.path}")
            elif p.kind in ("orphan-link-pin", "orphan-dispatcher-link"):
                assert p.path
                if not safety.is_under(fs, p.path) or not safety.is_own(p.path, directory=False):
                    continue
                try:
                    Link.from_pin(p.path).detach()
                except BpfError:
                    safety.remove_own_file(fs, p.path)
                done.append(f"detached and removed {p.path}")
            elif p.kind in ("dispatcher-member-missing", "dispatcher-filter-missing"):
                assert p.link_id is not None
                _rebuild_hook(mgr, scope, p.link_id, rebuilt, done)
            elif p.kind == "stale-dispatcher-revision":
                assert p.path
                if safety.is_under(fs, p.path) and safety.is_own(p.path, directory=True):
                    remove_revision(p.path)
                    done.append(f"removed {p.path}")
            elif p.kind in ("orphan-tc-filter", "orphan-dispatcher-filter"):
                assert p.filter
                f = p.filter
                with in_netns(f.netns or None):
                    tc.remove_filter(f.ifindex, f.direction, f.priority, f.handle)
                done.append(f"removed {p.subject}")
            elif p.kind == "tc-filter-missing":
                assert p.link_id is not None
                with mgr.store.transaction():
                    mgr.store.delete_link(p.link_id)
                done.append(f"forgot link {p.link_id}")
            elif p.kind == "map-dir-missing":
                assert p.program_id is not None and p.path
                done.append(_repin_maps(mgr, p.program_id, p.path))
            elif p.kind in (
                "link-pin-missing",
                "link-without-program",
                "link-pin-mismatch",
                "link-detached",
            ):
                assert p.link_id is not None
                rec = mgr.store.link(p.link_id)
                if rec is not None:
                    _forget_link(mgr, scope, rec, detach=p.kind != "link-pin-missing")
                done.append(f"forgot link {p.link_id}")
            elif p.kind in ("program-pin-missing", "program-pin-mismatch"):
                assert p.program_id is not None
                _forget_program(mgr, scope, p.program_id)
                if p.path:  # our pin of someone else's program: drop only our reference
                    safety.remove_own_file(fs, p.path)
                done.append(f"forgot program {p.program_id}")
        for p in problems:
            if p.kind == "stale-attach-intent":
                assert p.link_id is not None
                intent.clear(mgr.paths, p.link_id)
                done.append(f"cleared the interrupted attach of link {p.link_id}")
    return done


def _forget_program(mgr: Manager, scope: WriterScope, prog_id: int) -> None:
    rec = mgr.store.program(prog_id)
    for link in mgr.store.links(prog_id):
        _forget_link(mgr, scope, link, detach=True)
    with mgr.store.transaction():
        mgr.store.delete_program(prog_id)
    if rec is not None and not mgr.store.map_users(rec.map_pin_path):  # its last user
        safety.remove_own_tree(mgr.paths.fs, rec.map_pin_path)  # (computed from the ids)


def _forget_link(mgr: Manager, scope: WriterScope, link: LinkRecord, *, detach: bool) -> None:
    """Drop *link* from the database, after detaching it in the kernel (best effort) with
    *detach*. One link at a time: a dispatcher's next revision must not count it again."""
    updates: Updates = {}
    if detach:
        with contextlib.suppress(BpfError, OSError):
            updates = attacher.detach(mgr, scope, link)
    with mgr.store.transaction():
        mgr.store.delete_link(link.id)
        mgr.store.update_links(updates)
        hooks.hand_on_qdisc(mgr, scope, link)


def _rebuild_hook(
    mgr: Manager,
    scope: WriterScope,
    link_id: int,
    rebuilt: set[tuple[object, ...]],
    done: list[str],
) -> None:
    """Run the hook of member *link_id* again as the database records it (once per gc)."""
    rec = mgr.store.link(link_id)
    if rec is None or rec.net is None:
        return
    hook = rec.net.hook
    key = (rec.kind, hook.netns_ino, hook.ifindex, hook.direction)
    if key in rebuilt:
        return
    rebuilt.add(key)
    updates = dispatchers.rebuild(mgr, scope, rec)
    with mgr.store.transaction():
        mgr.store.update_links(updates)
    done.append(f"rebuilt the dispatcher of link {link_id}")
