"""Mutations of real model files: what a truncated upload or a crafted file looks like.

Every mutator takes the bytes of a seed file, a seeded :class:`random.Random`
and a scratch folder, and returns new bytes; the same seed and random state
always give the same output, so any input can be made again from its index.

* every format: bit flips, truncation, byte insertion and deletion, words
  overwritten with boundary values;
* ``.tflite``: field-aware edits found by walking the flatbuffer from its
  root table with the schema tflint ships (``tflint/loaders/tflite_schema.json``):
  uoffsets, vector and string lengths, vtable offsets, sizes and field
  slots, tensor / opcode / buffer indices, each set to boundary values;
* Keras JSON configs (``.json``, ``config.json`` in ``.keras``, the
  ``model_config`` of ``.h5``): type swaps, deep nesting, huge numbers,
  dangling and cyclic layer references, removed keys, duplicated layers,
  injected payloads;
* ``.keras`` zip archives: declared sizes, compression ratios, entry names
  with ``..`` or absolute paths, duplicate and missing entries, encryption
  and compression flags, entry counts;
* ``.h5`` files (rewritten with h5py): odd and huge ``model_config`` and
  metadata attributes, training configs, weight name lists.
"""

from __future__ import annotations

import io
import json
import random
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
SCHEMA = ROOT / "tflint" / "loaders" / "tflite_schema.json"

FORMATS = ("tflite", "h5", "keras", "json")
EXTENSIONS = {"tflite": ".tflite", "h5": ".h5", "keras": ".keras", "json": ".json"}

Mutator = Callable[[bytes, random.Random, Path], bytes]


@dataclass(frozen=True)
class Seed:
    path: Path
    format: str
    data: bytes

    @property
    def name(self) -> str:
        return self.path.relative_to(FIXTURES).as_posix() if self.path.is_relative_to(
            FIXTURES) else self.path.name


def load_seeds(folder: Path = FIXTURES) -> dict[str, list[Seed]]:
    """The real fixture files, by format (JSON only when it is a Keras config)."""
    seeds: dict[str, list[Seed]] = {name: [] for name in FORMATS}
    for path in sorted(folder.rglob("*")):
        suffix = path.suffix.lower().lstrip(".")
        if not path.is_file() or suffix not in FORMATS:
            continue
        data = path.read_bytes()
        if suffix == "json" and b'"class_name"' not in data[:4096]:
            continue
        seeds[suffix].append(Seed(path, suffix, data))
    return seeds


# -- byte level (every format) -----------------------------------------------------------

U32_BOUNDARIES = (0, 1, 2, 4, 0x7F, 0xFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF)


def bit_flips(data: bytes, rng: random.Random, work: Path) -> bytes:
    out = bytearray(data)
    for _ in range(rng.choice((1, 1, 2, 4, 8, 32))):
        out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    return bytes(out)


def truncate(data: bytes, rng: random.Random, work: Path) -> bytes:
    cut = rng.choice((rng.randrange(len(data)), rng.randrange(min(len(data), 64)),
                      len(data) - rng.randrange(1, min(len(data), 64) + 1)))
    return data[:cut]


def insert_bytes(data: bytes, rng: random.Random, work: Path) -> bytes:
    at = rng.randrange(len(data) + 1)
    size = rng.choice((1, 2, 4, 8, 64, 4096))
    chunk = bytes(rng.randrange(256) for _ in range(size)) if rng.random() < 0.5 else (
        rng.choice((b"\x00", b"\xff", b"{", b"[", b"PK")) * size)
    return data[:at] + chunk[:size] + data[at:]


def delete_bytes(data: bytes, rng: random.Random, work: Path) -> bytes:
    at = rng.randrange(len(data))
    return data[:at] + data[at + rng.choice((1, 2, 4, 8, 64, 4096)):]


def overwrite_word(data: bytes, rng: random.Random, work: Path) -> bytes:
    out = bytearray(data)
    if len(out) < 4:
        return bytes(out)
    for _ in range(rng.randint(1, 3)):
        pos = rng.randrange(len(out) - 3)
        if rng.random() < 0.5:
            pos &= ~3
        value = rng.choice((*U32_BOUNDARIES, len(data), len(data) - pos, rng.randrange(len(data))))
        struct.pack_into("<I", out, pos, value & 0xFFFFFFFF)
    return bytes(out)


def duplicate_chunk(data: bytes, rng: random.Random, work: Path) -> bytes:
    start = rng.randrange(len(data))
    chunk = data[start:start + rng.choice((4, 16, 256, 4096))]
    at = rng.randrange(len(data) + 1)
    return data[:at] + chunk + data[at + len(chunk) * rng.randint(0, 1):]


BYTE_MUTATORS: dict[str, Mutator] = {
    "bit_flips": bit_flips,
    "truncate": truncate,
    "insert_bytes": insert_bytes,
    "delete_bytes": delete_bytes,
    "overwrite_word": overwrite_word,
    "duplicate_chunk": duplicate_chunk,
}


# -- TFLite flatbuffers, field-aware -----------------------------------------------------

@dataclass(frozen=True, slots=True)
class Site:
    """A place in a flatbuffer worth damaging: what it is, where, for which field."""

    kind: str
    pos: int
    field: str
    #: Element size for vector lengths; the table's inline size for vtable slots.
    extra: int = 0


@cache
def _schema() -> dict[str, Any]:
    return json.loads(SCHEMA.read_text(encoding="utf-8"))


#: Scalar fields that index into another list of the model.
_INDEX_FIELDS = {
    ("Operator", "opcode_index"), ("Tensor", "buffer"), ("SignatureDef", "subgraph_index"),
    ("TensorMap", "tensor_index"), ("Metadata", "buffer"), ("Tensor", "external_buffer"),
    ("OperatorCode", "builtin_code"), ("OperatorCode", "deprecated_builtin_code"),
    ("Tensor", "type"), ("Operator", "builtin_options_type"),
    ("Operator", "builtin_options_2_type"), ("Buffer", "offset"), ("Buffer", "size"),
    ("Operator", "large_custom_options_offset"), ("Operator", "large_custom_options_size"),
}
#: int32 vectors whose elements are tensor indices or dimensions.
_INDEX_VECTORS = {
    ("Operator", "inputs"), ("Operator", "outputs"), ("Operator", "intermediates"),
    ("SubGraph", "inputs"), ("SubGraph", "outputs"), ("Tensor", "shape"),
    ("Tensor", "shape_signature"),
}
_SCALAR_SIZES = {"bool": 1, "int8": 1, "uint8": 1, "int16": 2, "uint16": 2, "int32": 4,
                 "uint32": 4, "int64": 8, "uint64": 8, "float32": 4, "float64": 8}
MAX_SITES = 50_000


def flatbuffer_sites(data: bytes) -> list[Site]:
    """Every offset, length, vtable entry and index of a TFLite model, found from its root."""
    tables = _schema()["tables"]
    unions = _schema()["unions"]
    size = len(data)
    sites: list[Site] = []
    seen: set[int] = set()

    def u32(pos: int) -> int | None:
        return struct.unpack_from("<I", data, pos)[0] if 0 <= pos <= size - 4 else None

    def follow(pos: int) -> int | None:
        offset = u32(pos)
        return None if offset is None or pos + offset >= size else pos + offset

    if size < 8 or (root := follow(0)) is None:
        return sites
    sites.append(Site("uoffset", 0, "root"))
    queue: list[tuple[int, str]] = [(root, "Model")]
    while queue and len(sites) < MAX_SITES:
        pos, name = queue.pop()
        if pos in seen or pos > size - 4:
            continue
        seen.add(pos)
        vtable = pos - struct.unpack_from("<i", data, pos)[0]
        if not 0 <= vtable <= size - 4:
            continue
        vt_size, inline = struct.unpack_from("<HH", data, vtable)
        if vt_size < 4 or vtable + vt_size > size:
            continue
        sites += [Site("soffset", pos, name), Site("vtable_size", vtable, name),
                  Site("vtable_inline", vtable + 2, name, inline)]
        slots = struct.unpack_from(f"<{(vt_size - 4) // 2}H", data, vtable + 4)
        types: dict[str, int] = {}
        for field in tables.get(name, []):
            slot = field["slot"]
            if slot >= len(slots) or not slots[slot]:
                continue
            at = pos + slots[slot]
            label = f"{name}.{field['name']}"
            sites.append(Site("vtable_field", vtable + 4 + 2 * slot, label, inline))
            kind = field["kind"]
            if kind == "scalar":
                if field.get("union_type") and at < size:
                    types[field["union_type"]] = data[at]
                if (name, field["name"]) in _INDEX_FIELDS:
                    sites.append(Site("scalar", at, label, _SCALAR_SIZES[field["type"]]))
                continue
            target = follow(at)
            sites.append(Site("uoffset", at, label))
            if target is None:
                continue
            if kind in ("vector", "string", "vector_of_tables"):
                elem = 4 if kind == "vector_of_tables" else (
                    _SCALAR_SIZES.get(field.get("type", ""), 1))
                sites.append(Site("length", target, label, elem))
                count = u32(target) or 0
                if target + 4 + count * elem > size:
                    continue
                if kind == "vector_of_tables":
                    for i in range(min(count, MAX_SITES)):
                        element = target + 4 + 4 * i
                        sites.append(Site("uoffset", element, f"{label}[{i}]"))
                        table = follow(element)
                        if table is not None:
                            queue.append((table, field["table"]))
                elif (name, field["name"]) in _INDEX_VECTORS:
                    sites += [Site("element", target + 4 + 4 * i, f"{label}[{i}]")
                              for i in range(min(count, 64))]
            elif kind == "table":
                queue.append((target, field["table"]))
            elif kind == "union":
                members = unions.get(field["union"], [])
                index = types.get(field["union"], 0)
                if 0 < index < len(members) and members[index]:
                    queue.append((target, members[index]))
    return sites


@lru_cache(maxsize=256)  # seeds are mutated many times; bytes cache their hash
def _sites(data: bytes) -> list[Site]:
    return flatbuffer_sites(data)


def _boundary(site: Site, size: int, rng: random.Random, sites: list[Site]) -> tuple[str, int]:
    """(struct format, value) for a site."""
    rest = size - site.pos
    if site.kind == "uoffset":
        other = rng.choice(sites).pos
        choices = [0, 1, 4, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFFFFFC, size, rest,
                   rest - 1, rest - 4, max(rest - 8, 0), (other - site.pos) & 0xFFFFFFFF]
        return "<I", rng.choice(choices)
    if site.kind == "length":
        elem = max(site.extra, 1)
        fits = max(rest - 4, 0) // elem
        return "<I", rng.choice([0, 1, fits, fits + 1, 0x3FFFFFFF, 0x7FFFFFFF, 0xFFFFFFFF,
                                 0x10000, 0x100000])
    if site.kind == "soffset":
        return "<i", rng.choice([0, 4, site.pos, site.pos + 1, -size, -rest, 2**31 - 1,
                                 -(2**31), site.pos - rng.choice(sites).pos])
    if site.kind in ("vtable_size", "vtable_inline"):
        return "<H", rng.choice([0, 1, 2, 3, 4, 5, 0xFFFE, 0xFFFF, site.extra + 1])
    if site.kind == "vtable_field":
        return "<H", rng.choice([0, 1, 3, 4, site.extra, site.extra - 1, 0xFFFF, 0x8000])
    if site.kind == "element":
        return "<i", rng.choice([-1, -2, 0, 1, 2**31 - 1, -(2**31), 255, 65535, 10**6])
    # Index and size scalars, by width.
    width = {1: "<B", 2: "<H", 4: "<I", 8: "<Q"}.get(site.extra, "<I")
    top = (1 << (8 * site.extra)) - 1 if site.extra in (1, 2, 4, 8) else 0xFFFFFFFF
    return width, rng.choice([0, 1, 2, 3, top, top // 2, top // 2 + 1, 200, size])


def flatbuffer_field(data: bytes, rng: random.Random, work: Path) -> bytes:
    sites = _sites(data)
    if not sites:
        return bit_flips(data, rng, work)
    out = bytearray(data)
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        site = rng.choice(sites)
        fmt, value = _boundary(site, len(data), rng, sites)
        if site.pos + struct.calcsize(fmt) <= len(out):
            struct.pack_into(fmt, out, site.pos, value)
    return bytes(out)


def flatbuffer_kind(kind: str) -> Mutator:
    """Field-aware mutation restricted to one kind of site (offsets, lengths...)."""

    def mutate(data: bytes, rng: random.Random, work: Path) -> bytes:
        sites = [s for s in _sites(data) if s.kind in kind.split("|")]
        if not sites:
            return flatbuffer_field(data, rng, work)
        out = bytearray(data)
        site = rng.choice(sites)
        fmt, value = _boundary(site, len(data), rng, sites)
        if site.pos + struct.calcsize(fmt) <= len(out):
            struct.pack_into(fmt, out, site.pos, value)
        return bytes(out)

    return mutate


TFLITE_MUTATORS: dict[str, Mutator] = {
    "fb_field": flatbuffer_field,
    "fb_offset": flatbuffer_kind("uoffset"),
    "fb_length": flatbuffer_kind("length"),
    "fb_vtable": flatbuffer_kind("soffset|vtable_size|vtable_inline|vtable_field"),
    "fb_index": flatbuffer_kind("scalar|element"),
}


# -- Keras JSON configs -------------------------------------------------------------------

SENTINEL = "__tflint_fuzz_raw__"
ODD_VALUES: tuple[Any, ...] = (
    None, 0, -1, 1, 2**31, 2**63, -(2**63), 10**30, 1.5, 1e308, -1e308, "", "x", "relu",
    "InputLayer", "Functional", "__keras_tensor__", [], {}, [None], [[]], True, False,
    {"class_name": "__lambda__", "config": {"code": "AAAA"}},
    {"module": "os", "class_name": "system", "config": "true"},
    {"module": "builtins", "class_name": "function", "config": "exec"},
    {"module": "keras.utils", "class_name": "function", "config": "get_file"},
    "enable_unsafe_deserialization", "os.system",
    {"class_name": "__keras_tensor__", "config": {"keras_history": ["nope", 0, 0]}},
    ["nope", 0, 0, {}], ["dense", -1, 0], ["dense", 0, 99], ["dense", 10**20, 0],
)
RAW_VALUES = (
    "1" * 20, "1" * 400, "1" * 5000, "-" + "9" * 4300, "1e999", "-1e999", "NaN", "Infinity",
    "-Infinity", "0.0000000000000000000001", "1E+400", '"' + "A" * 100_000 + '"',
    "[" + ",".join(["0"] * 100_000) + "]", '"\\ud800"', '"\\u0000"',
)
CLASS_NAMES = ("Functional", "Sequential", "Model", "InputLayer", "Lambda", "TimeDistributed",
               "Bidirectional", "Dense", "function", "__tuple__", "__keras_tensor__", "x>y", "")


def _nodes(value: Any, limit: int = 20_000) -> list[tuple[Any, Any]]:
    """(container, key) of every value in a document, iteratively."""
    found: list[tuple[Any, Any]] = []
    stack = [value]
    while stack and len(found) < limit:
        item = stack.pop()
        pairs = item.items() if isinstance(item, dict) else enumerate(item)
        for key, child in pairs:
            found.append((item, key))
            if isinstance(child, dict | list):
                stack.append(child)
    return found


def _layers(document: Any) -> list[dict[str, Any]]:
    return [c[k] for c, k in _nodes(document) if isinstance(c[k], dict) and (
        "inbound_nodes" in c[k] or ("class_name" in c[k] and isinstance(c, list)))]


def _dump(document: Any, raw: str | None = None) -> bytes:
    text = json.dumps(document)
    if raw is not None:
        text = text.replace(json.dumps(SENTINEL), raw, 1)
    return text.encode("utf-8")


def _set_random(document: Any, rng: random.Random, value: Any) -> bool:
    nodes = _nodes(document)
    if not nodes:
        return False
    container, key = rng.choice(nodes)
    container[key] = value
    return True


def json_type_swap(doc: Any, rng: random.Random) -> bytes:
    for _ in range(rng.randint(1, 3)):
        _set_random(doc, rng, json.loads(json.dumps(rng.choice(ODD_VALUES))))
    return _dump(doc)


def json_deep_nesting(doc: Any, rng: random.Random) -> bytes:
    depth = rng.choice((50, 150, 190, 199, 200, 201, 1_000, 100_000))
    opener, closer = rng.choice((("[", "]"), ('{"a":', "}")))
    _set_random(doc, rng, SENTINEL)
    return _dump(doc, opener * depth + "1" + closer * depth)


def json_huge_number(doc: Any, rng: random.Random) -> bytes:
    _set_random(doc, rng, SENTINEL)
    return _dump(doc, rng.choice(RAW_VALUES))


def json_remove_keys(doc: Any, rng: random.Random) -> bytes:
    for _ in range(rng.randint(1, 4)):
        dicts = [(c, k) for c, k in _nodes(doc) if isinstance(c, dict)]
        if dicts:
            container, key = rng.choice(dicts)
            del container[key]
    return _dump(doc)


def json_dangling_reference(doc: Any, rng: random.Random) -> bytes:
    """Point a layer reference at a layer, call or tensor that does not exist, or itself."""
    layers = _layers(doc)
    refs = [(c, k) for c, k in _nodes(doc) if isinstance(c[k], list) and c[k]
            and isinstance(c[k][0], str) and len(c[k]) in (3, 4)]
    if not refs:
        return json_type_swap(doc, rng)
    for _ in range(rng.randint(1, 2)):
        container, key = rng.choice(refs)
        ref = list(container[key])
        names = [layer.get("name") or layer.get("config", {}).get("name") for layer in layers
                 if isinstance(layer.get("config", {}), dict)]
        choice = rng.randrange(4)
        if choice == 0:
            ref[0] = "no_such_layer"
        elif choice == 1 and names:
            ref[0] = rng.choice([n for n in names if isinstance(n, str)] or ["x"])  # a cycle
        elif choice == 2:
            ref[1] = rng.choice((-1, 1, 7, 2**40))
        else:
            ref[2] = rng.choice((-1, 1, 7, 2**40))
        container[key] = ref
    return _dump(doc)


def json_duplicate_layers(doc: Any, rng: random.Random) -> bytes:
    lists = [c[k] for c, k in _nodes(doc) if k == "layers" and isinstance(c[k], list) and c[k]]
    if not lists:
        return json_type_swap(doc, rng)
    target = rng.choice(lists)
    choice = rng.randrange(3)
    if choice == 0:
        target.append(json.loads(json.dumps(rng.choice(target))))
    elif choice == 1:
        target.reverse()
    else:
        target.extend(json.loads(json.dumps(target)) * rng.choice((1, 10, 100)))
    return _dump(doc)


def json_class_names(doc: Any, rng: random.Random) -> bytes:
    named = [c for c, k in _nodes(doc) if isinstance(c, dict) and k == "class_name"]
    for container in rng.sample(named, min(len(named), rng.randint(1, 3))):
        container["class_name"] = rng.choice(CLASS_NAMES)
    return _dump(doc)


def json_text_damage(doc: Any, rng: random.Random) -> bytes:
    data = _dump(doc)
    return rng.choice((bit_flips, truncate, insert_bytes, delete_bytes))(data, rng, Path())


JSON_EDITS: dict[str, Callable[[Any, random.Random], bytes]] = {
    "type_swap": json_type_swap,
    "deep_nesting": json_deep_nesting,
    "huge_number": json_huge_number,
    "remove_keys": json_remove_keys,
    "dangling_reference": json_dangling_reference,
    "duplicate_layers": json_duplicate_layers,
    "class_names": json_class_names,
    "text_damage": json_text_damage,
}


def mutate_config_text(text: bytes, rng: random.Random, edit: str | None = None) -> bytes:
    try:
        document = json.loads(text)
    except ValueError:
        return bit_flips(text, rng, Path())
    name = edit or rng.choice(sorted(JSON_EDITS))
    return JSON_EDITS[name](document, rng)


def json_mutator(edit: str) -> Mutator:
    def mutate(data: bytes, rng: random.Random, work: Path) -> bytes:
        return mutate_config_text(data, rng, edit)

    return mutate


JSON_MUTATORS: dict[str, Mutator] = {f"json_{name}": json_mutator(name) for name in JSON_EDITS}


# -- .keras zip archives ----------------------------------------------------------------------

ODD_NAMES = ("../config.json", "/etc/config.json", "assets\\..\\x", "C:/x.json", "a/../../b",
             "x\x00y", "./config.json", "CONFIG.JSON", "config.json/", "")


def _entries(data: bytes) -> list[tuple[zipfile.ZipInfo, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [(info, archive.read(info)) for info in archive.infolist()]


def _zip(entries: list[tuple[str, bytes, int]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, payload, method in entries:
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            archive.writestr(info, payload, compress_type=method)
    return buffer.getvalue()


def _as_list(data: bytes) -> list[tuple[str, bytes, int]]:
    return [(info.filename, payload, info.compress_type) for info, payload in _entries(data)]


def zip_config(data: bytes, rng: random.Random, work: Path) -> bytes:
    entries = _as_list(data)
    edited = [(n, mutate_config_text(p, rng) if n == "config.json" else p, m)
              for n, p, m in entries]
    return _zip(edited)


def zip_metadata(data: bytes, rng: random.Random, work: Path) -> bytes:
    entries = [e for e in _as_list(data) if e[0] != "metadata.json"]
    value = rng.choice((b"[]", b"1", b'{"keras_version": 3}', b"\xff\xfe", b"{" * 300,
                        b'{"keras_version": "' + b"9" * 2_000_000 + b'"}', b""))
    return _zip([*entries, ("metadata.json", value, zipfile.ZIP_DEFLATED)])


def zip_names(data: bytes, rng: random.Random, work: Path) -> bytes:
    entries = _as_list(data)
    name = rng.choice(ODD_NAMES)
    if rng.random() < 0.5:
        entries.append((name, b"x", zipfile.ZIP_STORED))
    else:
        index = rng.randrange(len(entries))
        entries[index] = (name, *entries[index][1:])
    return _zip(entries)


def zip_duplicates(data: bytes, rng: random.Random, work: Path) -> bytes:
    entries = _as_list(data)
    index = rng.randrange(len(entries))
    entries.insert(rng.randrange(len(entries) + 1), (entries[index][0], b'{"class_name": 1}',
                                                    zipfile.ZIP_STORED))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns on duplicate names: that is the point
        return _zip(entries)


def zip_missing(data: bytes, rng: random.Random, work: Path) -> bytes:
    entries = _as_list(data)
    drop = rng.choice(["config.json", "metadata.json", "model.weights.h5", None])
    kept = [e for e in entries if e[0] != drop] if drop else []
    return _zip(kept)


def zip_bomb(data: bytes, rng: random.Random, work: Path) -> bytes:
    """A highly compressible entry: config.json, or an extra asset."""
    size = rng.choice((1 << 20, 2 << 20, 8 << 20, 65 << 20))
    filler = rng.choice((b" ", b"0", b"\x00"))
    payload = zlib.compress(filler * size, 9)
    entries = _as_list(data)
    name = rng.choice(("config.json", "assets/big.bin"))
    entries = [e for e in entries if e[0] != name]
    built = _zip([*entries, (name, b"", zipfile.ZIP_DEFLATED)])
    # Swap the empty entry for the raw deflate stream, then fix the recorded sizes.
    stream = payload[2:-4]
    return _patch_entry(built, name, stream, compressed=len(stream), uncompressed=size,
                        crc=zlib.crc32(filler * size) if size <= (8 << 20) else 0)


def _patch_entry(data: bytes, name: str, stream: bytes, compressed: int, uncompressed: int,
                 crc: int) -> bytes:
    """Replace the (empty) content of entry ``name`` and rewrite both headers' fields."""
    out = bytearray(data)
    encoded = name.encode()
    local = out.find(b"PK\x03\x04" + b"")
    while local >= 0:
        name_len, extra_len = struct.unpack_from("<HH", out, local + 26)
        if out[local + 30:local + 30 + name_len] == encoded:
            break
        local = out.find(b"PK\x03\x04", local + 4)
    if local < 0:
        return bytes(out)
    start = local + 30 + name_len + extra_len
    old_size = struct.unpack_from("<I", out, local + 18)[0]
    out[start:start + old_size] = stream
    struct.pack_into("<III", out, local + 14, crc, compressed, uncompressed)
    shift = len(stream) - old_size
    # Every later header moved by ``shift``: fix central offsets and the EOCD.
    cd = out.find(b"PK\x01\x02")
    while cd >= 0:
        name_len = struct.unpack_from("<H", out, cd + 28)[0]
        offset = struct.unpack_from("<I", out, cd + 42)[0]
        if out[cd + 46:cd + 46 + name_len] == encoded:
            struct.pack_into("<III", out, cd + 16, crc, compressed, uncompressed)
        elif offset > local:
            struct.pack_into("<I", out, cd + 42, offset + shift)
        cd = out.find(b"PK\x01\x02", cd + 4)
    eocd = out.rfind(b"PK\x05\x06")
    if eocd >= 0:
        cd_offset = struct.unpack_from("<I", out, eocd + 16)[0]
        struct.pack_into("<I", out, eocd + 16, cd_offset + shift)
    return bytes(out)


def zip_headers(data: bytes, rng: random.Random, work: Path) -> bytes:
    """Declared sizes, methods, flags, CRCs and entry counts set to boundary values."""
    out = bytearray(data)
    headers = [("local", m) for m in _find_all(out, b"PK\x03\x04")] + [
        ("central", m) for m in _find_all(out, b"PK\x01\x02")] + [
        ("end", m) for m in _find_all(out, b"PK\x05\x06")]
    if not headers:
        return bit_flips(data, rng, work)
    for _ in range(rng.randint(1, 3)):
        kind, at = rng.choice(headers)
        fields = {
            "local": [(6, "<H"), (8, "<H"), (14, "<I"), (18, "<I"), (22, "<I"), (26, "<H"),
                      (28, "<H")],
            "central": [(8, "<H"), (10, "<H"), (16, "<I"), (20, "<I"), (24, "<I"), (28, "<H"),
                        (30, "<H"), (42, "<I")],
            "end": [(8, "<H"), (10, "<H"), (12, "<I"), (16, "<I"), (20, "<H")],
        }[kind]
        offset, fmt = rng.choice(fields)
        top = 0xFFFF if fmt == "<H" else 0xFFFFFFFF
        value = rng.choice((0, 1, top, top - 1, 1 << 20, 100 << 20, 10_001, 0x0001, 99, 12,
                            14, 8, len(data), rng.randrange(top)))
        if at + offset + struct.calcsize(fmt) <= len(out):
            struct.pack_into(fmt, out, at + offset, value & top)
    return bytes(out)


def _find_all(data: bytes | bytearray, needle: bytes) -> list[int]:
    found, at = [], data.find(needle)
    while at >= 0:
        found.append(at)
        at = data.find(needle, at + 1)
    return found


def zip_many_entries(data: bytes, rng: random.Random, work: Path) -> bytes:
    entries = _as_list(data)
    count = rng.choice((100, 1_000, 10_001))
    return _zip(entries + [(f"assets/{i}", b"", zipfile.ZIP_STORED) for i in range(count)])


KERAS_MUTATORS: dict[str, Mutator] = {
    "zip_config": zip_config,
    "zip_metadata": zip_metadata,
    "zip_names": zip_names,
    "zip_duplicates": zip_duplicates,
    "zip_missing": zip_missing,
    "zip_bomb": zip_bomb,
    "zip_headers": zip_headers,
    "zip_many_entries": zip_many_entries,
}


# -- HDF5 ------------------------------------------------------------------------------------

def _with_h5(data: bytes, work: Path, edit: Callable[[Any], None]) -> bytes:
    import h5py

    path = work / "mutating.h5"
    path.write_bytes(data)
    try:
        with h5py.File(path, "r+") as handle:
            edit(handle)
        return path.read_bytes()
    finally:
        path.unlink(missing_ok=True)


def _odd_attribute(rng: random.Random, text: str) -> Any:
    import numpy as np

    choice = rng.randrange(12)
    if choice == 0:
        return np.int64(7)
    if choice == 1:
        return np.zeros((3, 2), dtype=np.float32)
    if choice == 2:
        return np.array([text, text, "x"], dtype=object)
    if choice == 3:
        return ""
    if choice == 4:
        return np.bytes_(b"\xff\xfe" + text.encode()[:100])
    if choice == 5:
        return np.array([(1, 2.0)], dtype=[("a", "i4"), ("b", "f8")])
    if choice == 6:
        return np.bytes_(text.encode() + b"\x00" * 16)
    if choice == 7:
        return np.array([text.encode()])  # a 1-array of fixed bytes
    if choice == 8:
        return np.array([[text]], dtype=object)
    if choice == 9:
        return np.array([], dtype="S1")
    if choice == 10:
        return np.bool_(True)
    return "{" * 100_000


def h5_model_config(data: bytes, rng: random.Random, work: Path) -> bytes:
    def edit(handle: Any) -> None:
        import numpy as np

        raw = handle.attrs["model_config"]
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        mutated = mutate_config_text(text.encode("utf-8"), rng).decode("utf-8", "replace")
        del handle.attrs["model_config"]
        handle.attrs["model_config"] = (
            np.bytes_(mutated.encode("utf-8")) if rng.random() < 0.5 else mutated)

    return _with_h5(data, work, edit)


def h5_odd_attribute(data: bytes, rng: random.Random, work: Path) -> bytes:
    def edit(handle: Any) -> None:
        name = rng.choice(("model_config", "model_config", "keras_version", "backend",
                           "training_config"))
        raw = handle.attrs.get("model_config", "")
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        if name in handle.attrs:
            del handle.attrs[name]
        if rng.random() < 0.9:
            handle.attrs[name] = _odd_attribute(rng, text)

    return _with_h5(data, work, edit)


def h5_huge_attribute(data: bytes, rng: random.Random, work: Path) -> bytes:
    """Attributes past the loader's limits (64 MiB config, 1 MiB metadata).

    A fixed-length string this large needs HDF5's dense attribute storage, so
    the file is copied into a new one that allows it; a variable-length one
    (how newer Keras writes its attributes) fits anywhere.
    """
    import h5py
    import numpy as np

    name, size = rng.choice((("keras_version", 2 << 20), ("backend", 1 << 20 | 1),
                             ("model_config", 65 << 20), ("training_config", 65 << 20)))
    value = "[" + "0," * (size // 2) + "0]"
    source, target = work / "source.h5", work / "huge.h5"
    source.write_bytes(data)
    try:
        with h5py.File(source, "r") as src, h5py.File(target, "w", libver="latest") as dst:
            for key, item in src.attrs.items():
                if key != name:
                    dst.attrs[key] = item
            for key in src:
                src.copy(src[key], dst, name=key)
            dst.attrs[name] = np.bytes_(value.encode()) if rng.random() < 0.5 else value
        return target.read_bytes()
    finally:
        source.unlink(missing_ok=True)
        target.unlink(missing_ok=True)


def h5_training_config(data: bytes, rng: random.Random, work: Path) -> bytes:
    def edit(handle: Any) -> None:
        document = {"loss": rng.choice(ODD_VALUES), "metrics": [rng.choice(ODD_VALUES)],
                    "optimizer_config": {"class_name": "SGD", "config": {}}}
        text = mutate_config_text(json.dumps(document).encode(), rng).decode("utf-8", "replace")
        if "training_config" in handle.attrs:
            del handle.attrs["training_config"]
        handle.attrs["training_config"] = text

    return _with_h5(data, work, edit)


def h5_weight_names(data: bytes, rng: random.Random, work: Path) -> bytes:
    def edit(handle: Any) -> None:
        import numpy as np

        group = handle.get("model_weights")
        if group is None:
            group = handle.create_group("model_weights")
        choice = rng.randrange(4)
        if "layer_names" in group.attrs:
            del group.attrs["layer_names"]
        if choice == 0:
            group.attrs["layer_names"] = np.array([b"no_such_layer"] * 1000)
        elif choice == 1:
            group.attrs["layer_names"] = np.zeros(5, dtype=np.int32)
        elif choice == 2:
            group.attrs["layer_names"] = np.array(["x" * 100_000], dtype=object)
        else:
            names = [name.encode() for name in group]
            group.attrs["layer_names"] = np.array(names or [b"a"])
            for name in list(group)[:3]:
                layer = group[name]
                if isinstance(layer, type(group)):
                    if "weight_names" in layer.attrs:
                        del layer.attrs["weight_names"]
                    layer.attrs["weight_names"] = np.zeros((2, 3), dtype=np.float64)

    return _with_h5(data, work, edit)


H5_MUTATORS: dict[str, Mutator] = {
    "h5_model_config": h5_model_config,
    "h5_odd_attribute": h5_odd_attribute,
    "h5_huge_attribute": h5_huge_attribute,
    "h5_training_config": h5_training_config,
    "h5_weight_names": h5_weight_names,
}


# -- choosing a mutation ----------------------------------------------------------------------

#: (mutator table, weight) per format: structured edits most of the time, bytes otherwise.
PLANS: dict[str, list[tuple[dict[str, Mutator], float]]] = {
    "tflite": [(TFLITE_MUTATORS, 0.6), (BYTE_MUTATORS, 0.4)],
    "json": [(JSON_MUTATORS, 0.8), (BYTE_MUTATORS, 0.2)],
    "keras": [(KERAS_MUTATORS, 0.75), (BYTE_MUTATORS, 0.25)],
    "h5": [(H5_MUTATORS, 0.6), (BYTE_MUTATORS, 0.4)],
}
#: Rare on purpose: each writes tens of MiB.
RARE = {"h5_huge_attribute": 0.02, "zip_many_entries": 0.05, "zip_bomb": 0.3}


def all_mutators(format_name: str) -> dict[str, Mutator]:
    found: dict[str, Mutator] = {}
    for table, _ in PLANS[format_name]:
        found.update(table)
    return found


def pick_mutator(format_name: str, rng: random.Random) -> str:
    tables, weights = zip(*PLANS[format_name], strict=True)
    while True:
        table = rng.choices(tables, weights)[0]
        name = rng.choice(sorted(table))
        if rng.random() < RARE.get(name, 1.0):
            return name


def mutate(seed: Seed, name: str, rng: random.Random, work: Path) -> bytes:
    """Apply mutator ``name`` to ``seed``; a quarter of the time, damage bytes on top.

    A structured edit the container refuses to make (h5py cannot write some
    odd attributes) falls back to bit flips, so every index still gives an input.
    """
    try:
        data = all_mutators(seed.format)[name](seed.data, rng, work) or seed.data
    except Exception:
        data = bit_flips(seed.data, rng, work)
    if rng.random() < 0.25 and name not in BYTE_MUTATORS:
        data = rng.choice(list(BYTE_MUTATORS.values()))(data, rng, work) or data
    return data
