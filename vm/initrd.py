"""The guest's initrd: a static busybox, vm/init and the kernel modules, as a newc cpio."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

BUSYBOX = "/bin/busybox"  # Debian's busybox-static


class Cpio:
    """Writer of the "newc" cpio format the kernel unpacks as its initramfs."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.ino = 0

    def _entry(
        self, name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0)
    ) -> None:
        self.ino += 1
        raw = name.encode() + b"\0"
        fields = [self.ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(raw), 0]
        head = b"070701" + b"".join(b"%08x" % f for f in fields) + raw
        self.parts += [head, b"\0" * (-len(head) % 4), data, b"\0" * (-len(data) % 4)]

    def dir(self, name: str) -> None:
        self._entry(name, stat.S_IFDIR | 0o755)

    def file(self, name: str, data: bytes, mode: int = 0o644) -> None:
        self._entry(name, stat.S_IFREG | mode, data)

    def symlink(self, name: str, target: str) -> None:
        self._entry(name, stat.S_IFLNK | 0o777, target.encode())

    def chardev(self, name: str, major: int, minor: int) -> None:
        self._entry(name, stat.S_IFCHR | 0o600, rdev=(major, minor))

    def payload(self) -> bytes:
        trailer = Cpio()
        trailer.ino = -1
        trailer._entry("TRAILER!!!", 0)
        return b"".join(self.parts + trailer.parts)


def build(path: Path, init: Path, modules: list[tuple[str, bytes]]) -> None:
    """Writes the initrd: /init, /bin/busybox (+ sh), /modules/NN-name.ko in load order."""
    busybox = shutil.which(BUSYBOX)
    if busybox is None:
        raise FileNotFoundError(f"{BUSYBOX} missing: run vm/setup.sh (busybox-static)")
    c = Cpio()
    for d in ("bin", "dev", "proc", "sys", "newroot", "share", "ovl", "modules"):
        c.dir(d)
    c.chardev("dev/console", 5, 1)  # the kernel opens it for init before devtmpfs is mounted
    c.file("bin/busybox", Path(busybox).read_bytes(), 0o755)
    c.symlink("bin/sh", "busybox")
    c.file("init", init.read_bytes(), 0o755)
    for i, (name, data) in enumerate(modules):
        c.file(f"modules/{i:02d}-{name}.ko", data)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(c.payload())
    tmp.replace(path)
