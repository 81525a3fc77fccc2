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



def emit_json(value: Any) -> None:
    sys.stdout.write(json_text(value) + "\n")


def json_text(value: Any) -> str:
    import json

    return json.dumps(value, indent=2, sort_keys=False)


def printable(value: Any) -> str:
    """*value* as text for one table cell or line: control characters (a newline in a path)
    escaped, so that a value cannot forge rows."""
    text = str(value)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [
        ["" if c is None else printable(c) for c in r] for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [" " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in cells]  # fmt: skip
    return "\n".join(lines)


class Rows(tuple):  # type: ignore[type-arg]
    """A value ``block`` prints one item per row (upstream's Global, Links, Maps Used By)."""


def _cell(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"  # as upstream prints booleans
    return "None" if v in (None, "", [], {}) else printable(v)


def block(title: str, pairs: Sequence[tuple[str, Any]]) -> str:
    width = max((len(k) for k, _ in pairs), default=0)
    out = [f" {title}"]
    for k, v in pairs:
        items = (list(v) or [None]) if isinstance(v, Rows) else [v]
        out.append(f" {k.ljust(width)}  {_cell(items[0])}")
        out.extend(f" {'':{width}}  {_cell(item)}" for item in items[1:])
    return "\n".join(out)


LINK_HEADERS = ["Program ID", "Link ID", "Application", "Type", "Function Name", "Attachment"]


def links_cell(ids: Sequence[int]) -> str:
    if not ids:
        return ""
    shown = ", ".join(str(i) for i in ids[:3])
    more = ", ..." if len(ids) > 3 else ""
    return f"({len(ids)}) {shown}{more}"


def kv(mapping: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(mapping.items()))


def kv_rows(mapping: dict[str, Any]) -> Rows:
    return Rows(f"{k}={v}" for k, v in sorted(mapping.items()))


def kernel_type(kernel: dict[str, Any]) -> str:
    """Upstream's word for the kernel program type (``tc`` for tc and tcx, ``probe``...)."""
    from bpfman.manager.readonly import kernel_type_word  # (a table: no enum import)

    return kernel_type_word(int(kernel["program_type"]))


def programs_table(results: Sequence[dict[str, Any]]) -> str:
    """``list programs``' table of ``query.list_programs`` results."""
    rows = []
    for r in results:
        info = r.get("info")
        k = r["kernel_info"]
        if info is None:
            rows.append([k["id"], "", kernel_type(k), k["name"], ""])
        else:  # Function Name: the kernel's (15 characters), as upstream
            rows.append(
                [
                    k["id"],
                    info["metadata"].get("bpfman_application", ""),
                    r.get("_type_word", ""),
                    k["name"],
                    links_cell(info["links"]),
                ]
            )
    return table(["Program ID", "Application", "Type", "Function Name", "Links"], rows)


def program_type_word(info: dict[str, Any] | None, kernel: dict[str, Any]) -> str:
    if info is not None and "_type_word" in info:
        return str(info["_type_word"])
    return kernel_type(kernel)


def get_program_text(
    info: dict[str, Any] | None,
    kernel: dict[str, Any],
    type_word: str,
    attachments: dict[int, str] | None = None,
) -> str:
    """``get program``'s blocks; *attachments* (link id -> ``list links``' Attachment) make
    the Links rows ``ID (attachment)``."""
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
        globals_rows = Rows(
            f"{k}={binascii.a2b_base64(v).hex().upper()}" for k, v in info["global_data"].items()
        )
        attachments = attachments or {}
        links_rows = Rows(
            f"{i} ({attachments[i]})" if attachments.get(i) else str(i) for i in info["links"]
        )
        parts.append(
            block(
                "Bpfman State",
                [
                    ("BPF Function:", info["name"]),
                    ("Program Type:", type_word),
                    *location,
                    ("Global:", globals_rows),
                    ("Metadata:", kv_rows(info["metadata"])),
                    ("Map Pin Path:", info["map_pin_path"]),
                    ("Map Owner ID:", info.get("map_owner_id")),
                    ("Maps Used By:", Rows(info["map_used_by"])),
                    ("Links:", links_rows),
                ],
            )
        )
    parts.append(
        block(
            "Kernel State",
            [
                ("Program ID:", kernel["id"]),
                ("BPF Function:", kernel["name"]),
                ("Kernel Type:", kernel_type(kernel)),
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


def get_link_text(link: dict[str, Any], kind: int) -> str:
    """``get link``'s text of a LinkInfo dict (*kind*: the link's BpfmanType, or its number)."""
    from bpfman.manager.typetable import TYPES

    row = TYPES[kind]
    (body,) = link["attach"].values()
    pairs: list[tuple[str, Any]] = [
        ("BPF Function:", link["bpf_function"]),
        ("Program Type:", link["program_type"]),
        ("Program ID:", link["program_id"]),
        ("Link ID:", link["link_id"]),
    ]
    for key in row.shown:
        value = body.get(key)
        if key == "proceed_on" and value is not None and row.dispatcher:  # xdp, tc: words
            from bpfman.dispatch import verdicts

            value = ", ".join(verdicts.names(row.dispatcher, list(value)))
        if key == "fn_name" and row.attach_type:  # fentry/fexit: the function the load named
            value = link.get("_attach_fn")
        pairs.append((LINK_LABELS[key], value))
    pairs.append(("Metadata:", kv_rows(body.get("metadata", {}))))
    return block("Bpfman State", pairs)
