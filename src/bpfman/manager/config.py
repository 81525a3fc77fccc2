"""``/etc/bpfman/bpfman.toml``: per-interface XDP mode and signing options."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bpfman.errors import InputError

XDP_MODES = ("drv", "skb", "hw")


@dataclass(frozen=True)
class Config:
    interfaces: dict[str, dict[str, Any]] = field(default_factory=dict)
    signing: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def read(cls, path: str | None = None) -> Config:
        """The config at *path* (default ``DEFAULT_CONFIG``); none there: the defaults."""
        from bpfman.manager.paths import DEFAULT_CONFIG
        from bpfman.manager.safety import MAX_CONFIG, read_input_file

        path = path or DEFAULT_CONFIG
        try:
            raw = read_input_file(path, "config", MAX_CONFIG)
        except FileNotFoundError:
            return cls()
        except OSError as e:
            raise InputError(f"config {path}: {e.strerror or e}") from None
        import tomllib  # only when there is a file: start-up of every command

        try:
            data = tomllib.loads(raw.decode())
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
            raise InputError(f"config {path}: {e}") from None
        interfaces = _table(data, "interfaces", path)
        for iface in interfaces:
            opts = _table(interfaces, iface, path, f"interfaces.{iface}")
            mode = opts.get("xdp_mode", "drv")
            if mode not in XDP_MODES:
                raise InputError(
                    f"config {path}: interfaces.{iface}.xdp_mode must be drv, skb or hw"
                )
        return cls(interfaces=interfaces, signing=_table(data, "signing", path))

    def xdp_mode(self, iface: str) -> str:
        return str(self.interfaces.get(iface, {}).get("xdp_mode", "drv"))


def _table(data: dict[str, Any], key: str, path: str, name: str = "") -> dict[str, Any]:
    """``data[key]`` if it is a TOML table (missing: empty), else a one-line error."""
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise InputError(f"config {path}: {name or key} must be a table, not {value!r:.40}")
    return value
