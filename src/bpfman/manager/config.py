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

        path = path or DEFAULT_CONFIG
        try:
            f = open(path, "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            return cls()
        except OSError as e:
            raise InputError(f"config {path}: {e}") from None
        import tomllib  # only when there is a file: start-up of every command

        try:
            with f:
                data = tomllib.load(f)
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise InputError(f"config {path}: {e}") from None
        interfaces = data.get("interfaces", {})
        for iface, opts in interfaces.items():
            mode = opts.get("xdp_mode", "drv")
            if mode not in XDP_MODES:
                raise InputError(
                    f"config {path}: interfaces.{iface}.xdp_mode must be drv, skb or hw"
                )
        return cls(interfaces=interfaces, signing=data.get("signing", {}))

    def xdp_mode(self, iface: str) -> str:
        return str(self.interfaces.get(iface, {}).get("xdp_mode", "drv"))
