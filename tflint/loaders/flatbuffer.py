"""A minimal, bounds-checked FlatBuffers reader.

Model files come from anywhere, so every offset, length and count read from
the buffer is checked against its size before use, and a violation is a
:class:`~tflint.errors.ModelFileError` naming the field, never an
``IndexError`` or a crash.  Readers walk a fixed schema and never recurse on
what the data says, and a budget proportional to the buffer size bounds the
total work, so offsets that lead to the same data many times cannot make
loading hang.

Only what the linter needs is read: the FlatBuffers object API would copy
every buffer, weights included.  Loading time is dominated by the number of
field reads, so the accessors are written flat, and the names used in error
messages are only put together when there is an error.
"""

from __future__ import annotations

import struct
from typing import Any, NoReturn

from tflint.errors import ModelFileError

Buffer = Any  # bytes, bytearray, mmap.mmap: anything struct.unpack_from reads

_U16X2 = struct.Struct("<HH")
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")

#: Scalar types by schema name: (struct format character, size in bytes).
SCALARS: dict[str, tuple[str, int]] = {
    "bool": ("?", 1),
    "int8": ("b", 1),
    "uint8": ("B", 1),
    "int16": ("h", 2),
    "uint16": ("H", 2),
    "int32": ("i", 4),
    "uint32": ("I", 4),
    "int64": ("q", 8),
    "uint64": ("Q", 8),
    "float32": ("f", 4),
    "float64": ("d", 8),
}

_SCALAR_STRUCTS: dict[str, struct.Struct] = {
    name: struct.Struct("<" + code) for name, (code, _) in SCALARS.items()
}

#: Vector unpackers are compiled once per (type, length) for short vectors
#: (shapes, operand lists), which are most of what a model holds.
_CACHED_VECTOR_LENGTH = 16
_VECTOR_STRUCTS: dict[tuple[str, int], struct.Struct] = {}

#: Work units a table visit costs against the budget (its offset and vtable
#: lookup); vectors and strings cost their size in bytes.
_TABLE_COST = 4


def _label(owner: str, field: str) -> str:
    return f"{owner}.{field}" if field else owner


def _hex(pos: int) -> str:
    # A signed vtable offset can lead before the start of the file.
    return f"0x{pos:x}" if pos >= 0 else f"-0x{-pos:x}"


class FlatBuffer:
    """A FlatBuffers buffer with checked access and a work budget.

    ``budget`` bounds the bytes read plus tables visited; a well-formed file
    reads each part about once, so a few times its size is ample, and only
    offsets that point at the same data again and again exhaust it.

    Positions are absolute byte offsets into the buffer.  Methods that can
    fail take the name of what they read as ``owner`` (a table type) and
    ``field``, for the error message.
    """

    __slots__ = ("_types", "_vtables", "budget", "buf", "remaining", "size")

    def __init__(self, buf: Buffer, budget: int | None = None) -> None:
        self.buf = buf
        self.size = len(buf)
        self.budget = budget if budget is not None else 4 * self.size + (1 << 20)
        self.remaining = self.budget
        # Tables written by the same builder share vtables: decode each once.
        self._vtables: dict[int, tuple[int, tuple[int, ...], bool]] = {}
        # The table type read at each position.  Offsets only point forward,
        # so data cannot loop back on itself, but it can lead to one table
        # as two types (overlapping tables): an error, rather than reading
        # one table's fields as another's.
        self._types: dict[int, str] = {}

    # -- errors and budget ----------------------------------------------
    def outside(self, pos: int, owner: str, field: str = "") -> NoReturn:
        raise ModelFileError(
            f"offset {_hex(pos)} of {_label(owner, field)} points outside the file "
            f"(size {self.size})"
        )

    def charge(self, cost: int) -> None:
        self.remaining -= cost
        if self.remaining < 0:
            self.exhausted()

    def exhausted(self) -> NoReturn:
        raise ModelFileError(
            f"the file's offsets lead to the same data over and over (more than "
            f"{self.budget} units of work for {self.size} bytes)"
        )

    # -- offsets and tables ---------------------------------------------
    def follow(self, pos: int, owner: str, field: str = "") -> int:
        """The absolute position the uoffset stored at ``pos`` points to."""
        size = self.size
        if pos < 0 or pos + 4 > size:
            self.outside(pos, owner, field)
        target = pos + _U32.unpack_from(self.buf, pos)[0]
        if target >= size:
            self.outside(target, owner, field)
        return target

    def root(self, name: str) -> Table:
        if self.size < 8:
            raise ModelFileError(f"file too small to hold a {name} ({self.size} bytes)")
        return self.table(self.follow(0, f"the root {name}"), name)

    def table(self, pos: int, name: str) -> Table:
        """The table of type ``name`` starting at ``pos``."""
        size = self.size
        if pos < 0 or pos + 4 > size:
            self.outside(pos, name)
        self.remaining -= _TABLE_COST
        if self.remaining < 0:
            self.exhausted()
        vtable = pos - _I32.unpack_from(self.buf, pos)[0]
        layout = self._vtables.get(vtable)
        if layout is None:
            layout = self._vtable(vtable, name)
        inline_size, fields, has_fields = layout
        if pos + inline_size > size:
            raise ModelFileError(
                f"{name} at 0x{pos:x} is {inline_size} bytes long, past the end of the file "
                f"(size {size})"
            )
        # An empty table reads the same as any type: a writer may share one.
        if has_fields:
            seen = self._types.setdefault(pos, name)
            if seen != name:
                raise ModelFileError(
                    f"the table at 0x{pos:x} is reached both as a {seen} and as a {name}: "
                    f"overlapping tables"
                )
        return Table(self, pos, name, fields)

    def _vtable(self, vtable: int, name: str) -> tuple[int, tuple[int, ...], bool]:
        if vtable < 0 or vtable + 4 > self.size:
            self.outside(vtable, f"the vtable of {name}")
        vtable_size, inline_size = _U16X2.unpack_from(self.buf, vtable)
        if vtable_size < 4 or vtable_size % 2 or vtable + vtable_size > self.size:
            raise ModelFileError(
                f"vtable of {name} at 0x{vtable:x} has an invalid size {vtable_size}"
            )
        if inline_size < 4:
            raise ModelFileError(
                f"vtable of {name} at 0x{vtable:x} gives an invalid table size {inline_size}"
            )
        fields = struct.unpack_from(f"<{(vtable_size - 4) // 2}H", self.buf, vtable + 4)
        for slot, offset in enumerate(fields):
            # Field offsets count from the table start, past its vtable offset.
            if offset and not 4 <= offset < inline_size:
                raise ModelFileError(
                    f"vtable of {name} at 0x{vtable:x} puts field {slot} at offset {offset}, "
                    f"outside the table ({inline_size} bytes)"
                )
        self.charge(vtable_size)
        layout = (inline_size, fields, any(fields))
        self._vtables[vtable] = layout
        return layout

    # -- vectors and strings --------------------------------------------
    def vector_span(self, pos: int, elem_size: int, owner: str, field: str = "") -> tuple[int, int]:
        """(start, count) of the vector at ``pos``, checked to fit the file."""
        size = self.size
        if pos < 0 or pos + 4 > size:
            self.outside(pos, owner, field)
        count = _U32.unpack_from(self.buf, pos)[0]
        if pos + 4 + count * elem_size > size:
            raise ModelFileError(
                f"{_label(owner, field)} at 0x{pos:x} claims {count} elements, more than the "
                f"file holds (size {size})"
            )
        return pos + 4, count

    def scalars(self, pos: int, type_name: str, owner: str, field: str = "") -> tuple[Any, ...]:
        code, elem_size = SCALARS[type_name]
        start, count = self.vector_span(pos, elem_size, owner, field)
        self.remaining -= count * elem_size
        if self.remaining < 0:
            self.exhausted()
        if count <= _CACHED_VECTOR_LENGTH:
            unpacker = _VECTOR_STRUCTS.get((code, count))
            if unpacker is None:
                unpacker = _VECTOR_STRUCTS[code, count] = struct.Struct(f"<{count}{code}")
            return unpacker.unpack_from(self.buf, start)
        return struct.unpack_from(f"<{count}{code}", self.buf, start)

    def string(self, pos: int, owner: str, field: str = "") -> str:
        """The UTF-8 string at ``pos`` (undecodable bytes replaced)."""
        size = self.size
        if pos < 0 or pos + 4 > size:
            self.outside(pos, owner, field)
        end = pos + 4 + _U32.unpack_from(self.buf, pos)[0]
        # The terminating NUL must be inside the file too.
        if end >= size or self.buf[end] != 0:
            raise ModelFileError(
                f"string {_label(owner, field)} at 0x{pos:x} is not NUL-terminated within "
                f"the file (size {size})"
            )
        self.remaining -= end - pos
        if self.remaining < 0:
            self.exhausted()
        return str(self.buf[pos + 4 : end], "utf-8", "replace")

    def tables(self, pos: int, name: str, owner: str, field: str = "") -> list[Table]:
        """The tables of type ``name`` in the vector of offsets at ``pos``."""
        start, count = self.vector_span(pos, 4, owner, field)
        self.charge(4 * count)
        size, table = self.size, self.table
        result = []
        for i, offset in enumerate(struct.unpack_from(f"<{count}I", self.buf, start)):
            target = start + 4 * i + offset
            if target >= size:
                self.outside(target, owner, f"{field}[{i}]")
            result.append(table(target, name))
        return result


class Table:
    """One table: field access by vtable slot.

    Accessors take the field's name only to say what is wrong in an error.
    Absent fields read as the given default (scalars) or ``None``/empty.
    """

    __slots__ = ("fb", "fields", "name", "pos")

    def __init__(self, fb: FlatBuffer, pos: int, name: str, fields: tuple[int, ...]) -> None:
        self.fb = fb
        self.pos = pos
        self.name = name
        self.fields = fields

    def field(self, slot: int) -> int:
        """Absolute position of a field's inline value, 0 when absent."""
        fields = self.fields
        return self.pos + fields[slot] if slot < len(fields) and fields[slot] else 0

    def has(self, slot: int) -> bool:
        fields = self.fields
        return slot < len(fields) and fields[slot] != 0

    def scalar(self, slot: int, type_name: str, default: Any = 0) -> Any:
        fields = self.fields
        if slot >= len(fields) or not fields[slot]:
            return default
        pos = self.pos + fields[slot]
        unpacker = _SCALAR_STRUCTS[type_name]
        if pos + unpacker.size > self.fb.size:
            self.fb.outside(pos, f"{self.name} field {slot}")
        return unpacker.unpack_from(self.fb.buf, pos)[0]

    def target(self, slot: int, field: str) -> int:
        """Where the offset field ``slot`` points, 0 when absent."""
        fields = self.fields
        if slot >= len(fields) or not fields[slot]:
            return 0
        return self.fb.follow(self.pos + fields[slot], self.name, field)

    # The accessors below repeat target()'s few lines: they run once per
    # field of every tensor and operator, and a call costs as much as the work.
    def string(self, slot: int, field: str) -> str | None:
        fields = self.fields
        if slot >= len(fields) or not fields[slot]:
            return None
        fb = self.fb
        return fb.string(fb.follow(self.pos + fields[slot], self.name, field), self.name, field)

    def scalars(self, slot: int, type_name: str, field: str) -> tuple[Any, ...]:
        """A vector of scalars; an absent vector is empty."""
        fields = self.fields
        if slot >= len(fields) or not fields[slot]:
            return ()
        fb = self.fb
        target = fb.follow(self.pos + fields[slot], self.name, field)
        return fb.scalars(target, type_name, self.name, field)

    def vector_span(self, slot: int, elem_size: int, field: str) -> tuple[int, int] | None:
        """(start, count) of a vector without reading it; ``None`` when absent."""
        target = self.target(slot, field)
        return self.fb.vector_span(target, elem_size, self.name, field) if target else None

    def table(self, slot: int, name: str, field: str) -> Table | None:
        fields = self.fields
        if slot >= len(fields) or not fields[slot]:
            return None
        fb = self.fb
        return fb.table(fb.follow(self.pos + fields[slot], self.name, field), name)

    def tables(self, slot: int, name: str, field: str) -> list[Table]:
        target = self.target(slot, field)
        return self.fb.tables(target, name, self.name, field) if target else []
