"""Typed Python skeletons of eBPF objects (``bpfman gen python OBJ.bpf.o``).

The generated module holds, for one object:

- a ctypes class per struct/union reached from its maps' keys and values, its
  global variables, the targets of global pointers (the ``struct event
  *unused_event`` idiom that puts a ring buffer's event type in BTF) and any
  ``--type`` asked for; an ``enum.IntEnum`` per named enum among them;
- ``<Name>``: the loaded object, with ``progs`` (``Program``), ``maps``
  (``TypedMap[K, V]`` for maps with BTF types, ``Map`` otherwise) and
  ``globals`` (typed properties);
- ``<Name>Spec``: the opened object, with ``progs`` (``ProgramSpec``), ``maps``
  (``MapSpec``), the same ``globals`` (set before load) and ``load()``.

Classes are written from the same descriptions ``Btf.ctype`` builds from
(``bpfman.btfctypes``), so they have the same layouts, and ``typed()`` checks
them against the object's BTF again at load: a skeleton used with a different
object fails with a ``BpfError`` naming the field.
"""

from __future__ import annotations

import keyword
import os
import re
from collections.abc import Iterable

from bpfman.btf import KIND_PTR, Btf
from bpfman.btfctypes import Array, Desc, Describer, Record, Scalar, py_name
from bpfman.errors import BpfError
from bpfman.kinds import PERCPU_MAP_TYPES, MapType
from bpfman.object import ObjectSpec

_PY_TYPES = {"c_bool": "bool", "c_char": "bytes", "c_float": "float", "c_double": "float"}
_KEYLESS = (MapType.QUEUE, MapType.STACK)
# names the generated module defines or imports: no BTF type may take them
_MODULE_NAMES = (
    *("ctypes", "enum", "os", "bpfman", "Map", "TypedMap", "Globals", "MapSpec"),
    *("Object", "ObjectSpec", "ProgramSpec", "Program", "OBJECT_PATH"),
)
_ANNOTATION_NAMES = ("int", "bytes", "bool", "float", "list", "ctypes", "None")
_CLASS_SUFFIXES = ("", "Spec", "Programs", "Maps", "Globals", "SpecPrograms", "SpecMaps")
_UNTYPED = (MapType.RINGBUF, MapType.PERF_EVENT_ARRAY)


def _ctype_expr(desc: Desc) -> str:
    """The ctypes type of *desc* as an expression (``ctypes.c_char * 16``)."""
    if isinstance(desc, Scalar):
        return f"ctypes.{desc.name}"
    if isinstance(desc, Array):
        return f"{_ctype_expr(desc.elem)} * {desc.length}"
    return desc.name


def _ctype_annotation(desc: Desc) -> str:
    """The ctypes type of *desc* as a type annotation (``ctypes.Array[ctypes.c_char]``)."""
    if isinstance(desc, Array):
        return f"ctypes.Array[{_ctype_annotation(desc.elem)}]"
    return _ctype_expr(desc)


def value_annotation(desc: Desc) -> str:
    """What reading a *desc* gives in Python (ints for ints, instances for structs)."""
    if isinstance(desc, Scalar):
        return _PY_TYPES.get(desc.name, "int")
    return _ctype_annotation(desc)


def camel(name: str) -> str:
    words = [w for w in re.split(r"\W|_", name) if w]
    out = "".join(w[:1].upper() + w[1:] for w in words) or "Object"
    return out if out[0].isalpha() else "Obj" + out


def _attr(name: str) -> str:
    return py_name(name)


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, line: str = "", indent: int = 0) -> None:
        self.lines.append("    " * indent + line if line else "")

    def text(self) -> str:
        return "\n".join(self.lines).rstrip() + "\n"


class _Map:
    def __init__(self, name: str, mtype: int, key: Desc | None, value: Desc | None) -> None:
        self.name = name
        self.type = mtype
        self.key = key
        self.value = value

    @property
    def typed(self) -> bool:
        return self.type not in _UNTYPED

    def annotation(self) -> str:
        if not self.typed:
            return "Map"
        k = (
            "None"
            if self.type in _KEYLESS
            else (value_annotation(self.key) if self.key else "bytes")
        )
        v = value_annotation(self.value) if self.value else "bytes"
        if self.type in PERCPU_MAP_TYPES:
            v = f"list[{v}]"
        return f"TypedMap[{k}, {v}]"

    def expr(self, obj: str) -> str:
        ref = f"{obj}.maps[{self.name!r}]"
        if not self.typed:
            return ref
        k = "None" if self.key is None else _ctype_expr(self.key)
        v = "None" if self.value is None else _ctype_expr(self.value)
        return f"{ref}.typed({k}, {v})"


def generate(path: str, types: Iterable[str] = (), object_path: str | None = None) -> str:
    """The Python source of the skeleton of the object at *path*."""
    spec = ObjectSpec(path)
    try:
        return _generate(spec, list(types), object_path or os.path.abspath(path))
    finally:
        spec.close()


def _generate(spec: ObjectSpec, types: list[str], object_path: str) -> str:
    btf = spec.btf
    if btf is None:
        raise BpfError(f"{spec.path} has no BTF: nothing to generate types from")
    d = Describer(btf)
    cls = camel(spec.name)
    d.reserve([*_MODULE_NAMES, *(cls + suffix for suffix in _CLASS_SUFFIXES)])
    notes: list[str] = []

    def describe(type_id: int, what: str) -> Desc | None:
        try:
            return d.describe(type_id)
        except BpfError as e:
            notes.append(f"{what}: not typed: {e}")
            return None

    for name in types:
        d.describe(btf.named(name).id)  # asked for by name: its failure is the user's error
    maps: list[_Map] = []
    for ms in spec.maps.values():
        if ms.internal:
            continue
        key = describe(ms.key_type_id, f"map {ms.name} key") if ms.key_type_id else None
        value = describe(ms.value_type_id, f"map {ms.name} value") if ms.value_type_id else None
        maps.append(_Map(ms.name, int(ms.type), key, value))
    variables: list[tuple[str, Desc]] = []
    for var in btf.variables():
        if var.name not in spec.globals:
            continue
        desc = describe(var.type_id, f"global {var.name}")
        if desc is not None:
            variables.append((var.name, desc))
        target = btf.resolve(var.type_id)
        if target.kind == KIND_PTR and target.size_or_type:  # the type a global points to
            describe(target.size_or_type, f"the target of global {var.name}")
    return _emit(spec, btf, d, maps, variables, notes, object_path)


def _emit(
    spec: ObjectSpec,
    btf: Btf,
    d: Describer,
    maps: list[_Map],
    variables: list[tuple[str, Desc]],
    notes: list[str],
    object_path: str,
) -> str:
    w = _Writer()
    cls = camel(spec.name)
    base = os.path.basename(spec.path)
    w(f'"""Typed skeleton of {base}: generated by `bpfman gen python {base}`; do not edit."""')
    w()
    w("from __future__ import annotations")
    w()
    w("import ctypes")
    if d.enums:
        w("import enum")
    w("import os")
    w()
    w("import bpfman")
    w("from bpfman.map import Map, TypedMap")
    w("from bpfman.object import Globals, MapSpec, Object, ObjectSpec, ProgramSpec")
    w("from bpfman.program import Program")
    w()
    w(f"OBJECT_PATH = {object_path!r}")
    for note in notes:
        w(f"# {note}")
    enum_names = {t.id: d.unique(t.name) for t in d.enums.values()}
    taken = {*_ANNOTATION_NAMES, *enum_names.values(), *(r.name for r in d.records)}
    for enum_t in d.enums.values():
        w()
        w()
        w(f"class {enum_names[enum_t.id]}(enum.IntEnum):")
        w(f'"""enum {enum_t.name}"""', 1)
        w()
        for name, value in enum_t.enumerators:
            w(f"{_attr(name)} = {value}", 1)
    for rec in d.records:
        _emit_record(w, rec, taken)
    progs = list(spec.programs.values())
    _emit_globals(w, cls, variables)
    # the loaded object
    w()
    w()
    w(f"class {cls}Programs:")
    w(f'"""The programs of {base}, loaded."""', 1)
    w()
    w("def __init__(self, obj: Object) -> None:", 1)
    for p in progs:
        w(f"self.{_attr(p.name)}: Program = obj.programs[{p.name!r}]", 2)
    if not progs:
        w("pass", 2)
    w()
    w()
    w(f"class {cls}Maps:")
    w(f'"""The maps of {base}, typed from its BTF."""', 1)
    w()
    w("def __init__(self, obj: Object) -> None:", 1)
    for m in maps:
        w(f"self.{_attr(m.name)}: {m.annotation()} = {m.expr('obj')}", 2)
    if not maps:
        w("pass", 2)
    w()
    w()
    w(f"class {cls}:")
    w(f'"""{base} loaded: ``progs``, ``maps`` and ``globals``; ``close()`` unloads it."""', 1)
    w()
    w("def __init__(self, obj: Object) -> None:", 1)
    w("self.obj = obj", 2)
    w(f"self.progs = {cls}Programs(obj)", 2)
    w(f"self.maps = {cls}Maps(obj)", 2)
    w(f"self.globals = {cls}Globals(obj.globals)", 2)
    w()
    w("@classmethod", 1)
    w(f"def open(cls, path: str | os.PathLike[str] = OBJECT_PATH) -> {cls}Spec:", 1)
    w('"""The object opened: configure it, then ``load()``."""', 2)
    w(f"return {cls}Spec(bpfman.open(path))", 2)
    w()
    w("@classmethod", 1)
    w(f"def load(cls, path: str | os.PathLike[str] = OBJECT_PATH) -> {cls}:", 1)
    w("return cls.open(path).load()", 2)
    w()
    w("def close(self) -> None:", 1)
    w("self.obj.close()", 2)
    w()
    w(f"def __enter__(self) -> {cls}:", 1)
    w("return self", 2)
    w()
    w("def __exit__(self, *exc: object) -> None:", 1)
    w("self.close()", 2)
    # the opened object
    w()
    w()
    w(f"class {cls}SpecPrograms:")
    w("def __init__(self, spec: ObjectSpec) -> None:", 1)
    for p in progs:
        w(f"self.{_attr(p.name)}: ProgramSpec = spec.programs[{p.name!r}]", 2)
    if not progs:
        w("pass", 2)
    w()
    w()
    w(f"class {cls}SpecMaps:")
    w("def __init__(self, spec: ObjectSpec) -> None:", 1)
    for m in maps:
        w(f"self.{_attr(m.name)}: MapSpec = spec.maps[{m.name!r}]", 2)
    if not maps:
        w("pass", 2)
    w()
    w()
    w(f"class {cls}Spec:")
    w(f'"""{base} opened, not loaded: set globals, map sizes, autoload; then ``load()``."""', 1)
    w()
    w("def __init__(self, spec: ObjectSpec) -> None:", 1)
    w("self.spec = spec", 2)
    w(f"self.progs = {cls}SpecPrograms(spec)", 2)
    w(f"self.maps = {cls}SpecMaps(spec)", 2)
    w(f"self.globals = {cls}Globals(spec.globals)", 2)
    w()
    w(f"def load(self) -> {cls}:", 1)
    w(f"return {cls}(self.spec.load())", 2)
    w()
    w(f"def __enter__(self) -> {cls}Spec:", 1)
    w("return self", 2)
    w()
    w("def __exit__(self, *exc: object) -> None:", 1)
    w("self.spec.__exit__(*exc)", 2)
    return w.text()


def _fields_annotations(rec: Record, taken: set[str]) -> list[tuple[str, str]]:
    """(name, annotation) of every field reachable by attribute, anonymous members' included.

    A field named like a type an annotation may use (``bytes``, a struct) is left
    unannotated: in the class body its name would hide the type.
    """
    out: list[tuple[str, str]] = []
    for name, desc in rec.fields:
        if name in rec.anonymous and isinstance(desc, Record):
            out += _fields_annotations(desc, taken)
        elif name in taken:
            continue
        elif not name.startswith("_pad") and name.isidentifier() and not keyword.iskeyword(name):
            char_array = isinstance(desc, Array) and desc.elem == Scalar("c_char")
            out.append((name, "bytes" if char_array else value_annotation(desc)))  # ctypes' way
    return out


def _emit_record(w: _Writer, rec: Record, taken: set[str]) -> None:
    base = "ctypes.Union" if rec.union else "ctypes.Structure"
    w()
    w()
    w(f"class {rec.name}({base}):")
    w(f'"""{rec.c_name} ({rec.size} bytes)"""', 1)
    w()
    for name, ann in _fields_annotations(rec, taken):
        w(f"{name}: {ann}", 1)
    if rec.packed:
        w("_pack_ = 1", 1)
    if rec.anonymous:
        w(f"_anonymous_ = {tuple(rec.anonymous)!r}", 1)
    w("_fields_ = [", 1)
    for name, desc in rec.fields:
        w(f"({name!r}, {_ctype_expr(desc)}),", 2)
    w("]", 1)


def _emit_globals(w: _Writer, cls: str, variables: list[tuple[str, Desc]]) -> None:
    w()
    w()
    w(f"class {cls}Globals:")
    w('"""Global variables, typed: read and set before load (``.rodata`` too) and after."""', 1)
    w()
    w("def __init__(self, g: Globals) -> None:", 1)
    w("self._g = g", 2)
    for name, desc in variables:
        attr = _attr(name)
        ann = value_annotation(desc)
        w()
        w("@property", 1)
        w(f"def {attr}(self) -> {ann}:", 1)
        ctype = _ctype_expr(desc)
        if isinstance(desc, Scalar):
            w(f"value: {ann} = {ctype}.from_buffer_copy(self._g.raw({name!r})).value", 2)
            w("return value", 2)
        else:
            w(f"return ({ctype}).from_buffer_copy(self._g.raw({name!r}))", 2)
        w()
        w(f"@{attr}.setter", 1)
        w(f"def {attr}(self, value: {ann}) -> None:", 1)
        if isinstance(desc, Scalar) and desc.name in ("c_float", "c_double", "c_char"):
            w(f"self._g[{name!r}] = {ctype}(value)", 2)
        else:
            w(f"self._g[{name!r}] = value", 2)


__all__ = ["camel", "generate", "value_annotation"]
