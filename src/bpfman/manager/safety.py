"""What bpfman trusts on disk: only what it created, under a root nobody else can write.

bpfman runs as root. Its runtime root (and everything under it: the bpffs,
the database, the lock, the image cache) must be owned by bpfman's user and
writable by no one else, so that no local user can plant an entry that steers
it. These helpers check that before anything is created, opened or removed:

- ``secure_dir``: a directory (made with *mode* if missing) that is no
  symlink, is owned by us and is writable by no group or other user;
- ``open_own_file``: a regular file of ours opened with ``O_NOFOLLOW``;
- ``is_own``: an entry bpfman could have made (lstat: the type asked, our
  owner, no symlink);
- ``remove_own_tree`` / ``remove_own_file``: removal of such an entry, and
  only under the given root.
"""

from __future__ import annotations

import contextlib
import errno as _errno
import os
import stat

from bpfman.manager.errors import InputError, PreconditionError

GROUP_OTHER_WRITE = 0o022


class UnsafePathError(PreconditionError):
    """A path bpfman would use is not safe to trust (exit 1, gRPC FAILED_PRECONDITION)."""


def _describe(st: os.stat_result) -> str:
    """Why an lstat result is not one of our entries ('' if it is)."""
    if stat.S_ISLNK(st.st_mode):
        return "is a symbolic link"
    if st.st_uid != os.geteuid():
        return f"is owned by uid {st.st_uid}, not {os.geteuid()}"
    return ""


def secure_dir(
    path: str,
    mode: int = 0o700,
    *,
    create: bool = True,
    narrow_writable: bool = False,
    ancestors: bool = False,
) -> None:
    """Make sure *path* is a directory only we can write: created with *mode* if missing,
    an existing one of ours narrowed to *mode*.

    Refused: a symlink, another owner, group/other write (another user may already have
    planted entries in it; *narrow_writable*: narrowed instead, for a bpffs mounted by an
    older bpfman, whose entries are then checked one by one) and, with *ancestors*, a
    parent directory another user can change.
    """
    if create:
        with contextlib.suppress(FileExistsError):
            os.mkdir(path, mode)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise UnsafePathError(f"{path} does not exist") from None
    why = _describe(st) or ("" if stat.S_ISDIR(st.st_mode) else "is not a directory")
    if not why and st.st_mode & GROUP_OTHER_WRITE and not narrow_writable:
        why = f"is writable by group or others (mode {stat.S_IMODE(st.st_mode):04o})"
    if why:
        raise UnsafePathError(f"refusing to use {path}: it {why}")
    if stat.S_IMODE(st.st_mode) & ~mode & 0o777:
        os.chmod(path, stat.S_IMODE(st.st_mode) & (mode | 0o7000))
    if ancestors:
        check_ancestors(path)


def check_ancestors(path: str) -> None:
    """Every directory above *path* must be root's or ours, and not writable by others
    unless sticky (then others cannot rename what is ours): else they could swap *path*."""
    here = os.path.dirname(os.path.abspath(path))
    while True:
        st = os.stat(here)  # a symlinked ancestor is judged by its target
        if st.st_uid not in (0, os.geteuid()):
            raise UnsafePathError(
                f"refusing to use {path}: its parent {here} is owned by uid {st.st_uid}"
            )
        if st.st_mode & GROUP_OTHER_WRITE and not st.st_mode & stat.S_ISVTX:
            raise UnsafePathError(
                f"refusing to use {path}: its parent {here} is writable by group or others"
            )
        if here == "/":
            return
        here = os.path.dirname(here)


def open_own_file(path: str, flags: int, mode: int = 0o600) -> int:
    """``os.open`` of a regular file of ours, never through a symlink (``O_NOFOLLOW``) nor
    blocking on a FIFO (``O_NONBLOCK``); a file it creates gets *mode*, one that exists is
    narrowed to it."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, mode)
    except OSError as e:
        if e.errno == _errno.ELOOP:
            raise UnsafePathError(
                f"refusing to open {path}: it is a symbolic link", errno=e.errno
            ) from None
        raise
    try:
        st = os.fstat(fd)
        why = _describe(st) or ("" if stat.S_ISREG(st.st_mode) else "is not a regular file")
        if why:
            raise UnsafePathError(f"refusing to open {path}: it {why}")
        if stat.S_IMODE(st.st_mode) & ~mode:
            os.fchmod(fd, stat.S_IMODE(st.st_mode) & mode)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def check_own_file(path: str, mode: int = 0o600, *, missing_ok: bool = False) -> None:
    """*path* must be a regular file of ours (lstat: no symlink), narrowed to *mode*; it is
    not opened (see ``store``: that would drop sqlite's POSIX locks)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        if missing_ok:
            return
        raise
    why = _describe(st) or ("" if stat.S_ISREG(st.st_mode) else "is not a regular file")
    if why:
        raise UnsafePathError(f"refusing to open {path}: it {why}")
    if stat.S_IMODE(st.st_mode) & ~mode:
        os.chmod(path, stat.S_IMODE(st.st_mode) & mode)


def is_own(path: str, *, directory: bool) -> bool:
    """Whether *path* is an entry bpfman made: no symlink, our owner, a directory (or not)
    as asked. Missing: False."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return not _describe(st) and stat.S_ISDIR(st.st_mode) == directory


def foreign_reason(path: str, *, directory: bool) -> str:
    """Why *path* (which exists) is not an entry bpfman made, '' if it is one."""
    try:
        st = os.lstat(path)
    except OSError:
        return ""
    why = _describe(st)
    if not why and stat.S_ISDIR(st.st_mode) != directory:
        why = "is a directory" if not directory else "is not a directory"
    return why


def is_under(root: str, path: str) -> bool:
    """Whether *path* names an entry strictly below *root* (lexically: no '..' escapes)."""
    root = os.path.normpath(os.path.abspath(root))
    path = os.path.normpath(os.path.abspath(path))
    return path != root and os.path.commonpath([root, path]) == root


def remove_own_tree(root: str, path: str) -> bool:
    """Remove directory *path* under *root* if it is one of ours (its contents never through
    a symlink); returns whether it removed anything."""
    if not is_under(root, path) or not is_own(path, directory=True):
        return False
    import shutil  # rarely needed: not at every command's start-up

    shutil.rmtree(path, ignore_errors=True)  # fd-based: does not follow symlinks inside
    return True


def remove_own_file(root: str, path: str) -> bool:
    """Unlink *path* under *root* if it is a file (pin) of ours; returns whether it did."""
    if not is_under(root, path) or not is_own(path, directory=False):
        return False
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    return True


MAX_BYTECODE = 64 << 20  # an eBPF object file: far above any real one
MAX_CONFIG = 1 << 20


def check_input_file(path: str, what: str, limit: int) -> None:
    """A file a request names must be a regular file of at most *limit* bytes: checked
    before bpfman takes its lock (a FIFO, a device or a socket would block or never end).
    A missing or unreadable file is left to its reader."""
    try:
        st = os.stat(path)  # not opened: a socket cannot be, a FIFO would block
    except OSError:
        return
    if stat.S_ISDIR(st.st_mode):
        return  # the reader says "is a directory"
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{what} {path}: not a regular file")
    if st.st_size > limit:
        raise InputError(f"{what} {path}: {st.st_size} bytes, over the {limit >> 20} MiB limit")


def read_input_file(path: str, what: str, limit: int) -> bytes:
    """The contents of regular file *path* (``check_input_file``'s rules), at most *limit*
    bytes read even if it grows meanwhile."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    except OSError as e:
        if e.errno == _errno.ENXIO:  # a Unix socket
            raise InputError(f"{what} {path}: not a regular file") from None
        raise
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(_errno.EISDIR, "Is a directory", path)
        if not stat.S_ISREG(st.st_mode):
            raise InputError(f"{what} {path}: not a regular file")
        data = b""
        while len(data) <= limit:
            chunk = os.read(fd, limit + 1 - len(data))
            if not chunk:
                break
            data += chunk
    finally:
        os.close(fd)
    if len(data) > limit:
        raise InputError(f"{what} {path}: over the {limit >> 20} MiB limit")
    return data
