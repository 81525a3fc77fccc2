"""Text tables and JSON for the CLI (plain formatting: the CLI must start fast).

Imported by the read commands' fast path (``bpfman.cli.fast``): module level
imports nothing but ``sys`` and ``binascii``.
"""

from __future__ import annotations

import binascii
import sys

TYPE_CHECKING = False  # typing's import costs start-up; mypy reads the name as True
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from bpfman.manager.models import BpfmanType


def emit_json(value: Any) -> None:
    sys.stdout.write(json_text(value) + "\n")


def json_text(value: Any) -> str:
    import json

    return json.dumps(value, indent=2, sort_keys=False)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [" " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in cells]  # fmt: skip
    return "\n".join(lines)


def block(title: str, pairs: Sequence[tuple[str, Any]]) -> str:
    width = max((len(k) for k, _ in pairs), default=0)
    out = [f" {title}"]
    for k, v in pairs:
        out.append(f" {k.ljust(width)}  {'None' if v in (None, '', [], {}) else v}")
    return "\n".join(out)


def links_cell(ids: Sequence[int]) -> str:
    if not ids:
        return ""
    shown = ", ".join(str(i) for i in ids[:3])
    more = ", ..." if len(ids) > 3 else ""
    return f"({len(ids)}) {shown}{more}"


def kv(mapping: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(mapping.items()))


def programs_table(results: Sequence[dict[str, Any]]) -> str:
    """``list programs``' table of ``query.list_programs`` results."""
    rows = []
    for r in results:
        info = r.get("info")
        k = r["kernel_info"]
        if info is None:
            from bpfman.kinds import ProgramType, name_of

            rows.append([k["id"], "", name_of(ProgramType, k["program_type"]), k["name"], ""])
        else:
            rows.append(
                [
                    k["id"],
                    info["metadata"].get("bpfman_application", ""),
                    r.get("_type_word", ""),
                    info["name"],
                    links_cell(info["links"]),
                ]
            )
    return table(["Program ID", "Application", "Type", "Function Name", "Links"], rows)


def program_type_word(info: dict[str, Any] | None, kernel: dict[str, Any]) -> str:
    from bpfman.kinds import ProgramType, name_of

    if info is not None and "_type_word" in info:
        return str(info["_type_word"])
    return name_of(ProgramType, int(kernel["program_type"]))


def get_program_text(info: dict[str, Any] | None, kernel: dict[str, Any], type_word: str) -> str:
    parts: list[str] = []
    if info is not None:
        bc = info["bytecode"]
        location: list[tuple[str, Any]]
        if "image" in bc:
            policy = {0: "Always", 1: "IfNotPresent", 2: "Never"}
            location = [
                ("Image URL:", bc["image"]["url"]),
                ("Pull Policy:", policy.get(bc["image"]["image_pull_policy"], "")),
            ]
        else:
            location = [("Path:", bc["file"])]
        globals_text = ", ".join(
            f"{k}=0x{binascii.a2b_base64(v).hex()}" for k, v in info["global_data"].items()
        )
        parts.append(
            block(
                "Bpfman State",
                [
                    ("BPF Function:", info["name"]),
                    ("Program Type:", type_word),
                    *location,
                    ("Global:", globals_text),
                    ("Metadata:", kv(info["metadata"])),
                    ("Map Pin Path:", info["map_pin_path"]),
                    ("Map Owner ID:", info.get("map_owner_id")),
                    ("Maps Used By:", ", ".join(info["map_used_by"])),
                    ("Links:", ", ".join(str(i) for i in info["links"])),
                ],
            )
        )
    from bpfman.kinds import ProgramType, name_of

    parts.append(
        block(
            "Kernel State",
            [
                ("Program ID:", kernel["id"]),
                ("BPF Function:", kernel["name"]),
                ("Kernel Type:", name_of(ProgramType, int(kernel["program_type"]))),
                ("Loaded At:", kernel["loaded_at"]),
                ("Tag:", kernel["tag"]),
                ("GPL Compatible:", kernel["gpl_compatible"]),
                ("Map IDs:", kernel["map_ids"]),
                ("BTF ID:", kernel["btf_id"]),
                ("Size Translated (bytes):", kernel["bytes_xlated"]),
                ("JITted:", kernel["jited"]),
                ("Size JITted:", kernel["bytes_jited"]),
                ("Kernel Allocated Memory (bytes):", kernel["bytes_memlock"]),
                ("Verified Instruction Count:", kernel["verified_insns"]),
            ],
        )
    )
    return "\n\n".join(parts)


LINK_LABELS = {
    "iface": "Interface:",
    "priority": "Priority:",
    "position": "Position:",
    "direction": "Direction:",
    "proceed_on": "Proceed On:",
    "netns": "Network Namespace:",
    "tracepoint": "Tracepoint:",
    "fn_name": "Attach Function:",
    "offset": "Offset:",
    "target": "Target:",
    "pid": "PID:",
    "container_pid": "Container PID:",
}


def get_link_text(link: dict[str, Any], kind: BpfmanType) -> str:
    from bpfman.manager import parse
    from bpfman.manager.models import BpfmanType

    (body,) = link["attach"].values()
    pairs: list[tuple[str, Any]] = [
        ("BPF Function:", link["bpf_function"]),
        ("Program Type:", link["program_type"]),
        ("Program ID:", link["program_id"]),
        ("Link ID:", link["link_id"]),
    ]
    order = {
        BpfmanType.XDP: ["iface", "priority", "position", "proceed_on", "netns"],
        BpfmanType.TC: ["iface", "direction", "priority", "position", "proceed_on", "netns"],
        BpfmanType.TCX: ["iface", "direction", "priority", "position", "netns"],
        BpfmanType.TRACEPOINT: ["tracepoint"],
        BpfmanType.KPROBE: ["fn_name", "offset", "container_pid"],
        BpfmanType.UPROBE: ["target", "fn_name", "offset", "pid", "container_pid"],
        BpfmanType.FENTRY: ["fn_name"],
        BpfmanType.FEXIT: ["fn_name"],
    }[kind]
    for key in order:
        value = body.get(key)
        if key == "proceed_on" and value is not None:
            value = ", ".join(parse.proceed_on_names(kind, list(value)))
        if key == "fn_name" and kind in (BpfmanType.FENTRY, BpfmanType.FEXIT):
            value = link.get("_attach_fn")
        pairs.append((LINK_LABELS[key], value))
    pairs.append(("Metadata:", kv(body.get("metadata", {}))))
    return block("Bpfman State", pairs)
