"""What the Python bytecode stored in a Keras Lambda refers to, read without running it.

Keras stores a Lambda's function as ``base64(marshal.dumps(code))``.  This
module recovers the global names, attribute chains, imports, string
constants and calls that code references, so that the security scan can
grade it: tensor math only, or something else.

The code is never executed.  ``marshal.loads`` and ``dis`` run only in the
watched child process (:func:`tflint.loaders.keras_files.in_child`: CPU and
memory limits, a crash becomes a one-line error), and only when the code
object's layout is the running interpreter's: marshalled code has no version
stamp, so the layout is read first from the raw bytes (how many 32-bit
fields precede the bytecode, which opcode starts it), and code of another
version is reported with the version it needs instead of being decoded.
"""

from __future__ import annotations

import base64
import binascii
import dis
import struct
import sys
import types
from dataclasses import dataclass, field
from typing import Any

#: CPU seconds and extra address space the child may use for one file's Lambdas.
CHILD_CPU_SECONDS = 2.0
CHILD_MEMORY = 256 << 20
#: Longer marshalled code is not decoded (a real Lambda is a few hundred bytes).
MAX_CODE_BYTES = 1 << 20
#: Code objects (the function and those nested in its constants) read at most.
MAX_CODE_OBJECTS = 1000

_TYPE_CODE = ord("c")
_TYPE_BYTES = ord("s")
_FLAG_REF = 0x80
_HERE = f"{sys.version_info.major}.{sys.version_info.minor}"
#: Opcodes that may come before RESUME in a 3.11+ code object.
_PREFIX_OPS = frozenset(dis.opmap[name] for name in ("COPY_FREE_VARS", "MAKE_CELL")
                        if name in dis.opmap)


@dataclass
class CodeProfile:
    """What one marshalled function refers to; ``error`` or ``needs`` when it was not read."""

    globals: list[str] = field(default_factory=list)
    #: Dotted chains starting at a global: ``tf.io.read_file``.
    chains: list[str] = field(default_factory=list)
    imports: list[str] = field(default_factory=list)
    strings: list[str] = field(default_factory=list)
    #: ``getattr``/``setattr`` calls whose attribute name is not a string constant.
    computed_attributes: int = 0
    #: The Python version the code was compiled for, when it is not this one.
    needs: str | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CodeProfile:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def code_bytes(text: str) -> bytes | None:
    """The marshalled code of a Keras ``code`` string (base64, lines allowed), or None."""
    try:
        return base64.b64decode(text.encode("ascii"), validate=False)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return None


def layout_version(raw: bytes) -> str | None:
    """None when ``raw`` has this interpreter's code layout, else the Python it needs.

    The fields before the bytecode are 32-bit integers: six of them (with
    ``co_nlocals``) up to 3.10, five from 3.11 on (and in 3.7); from 3.11 the
    bytecode starts with RESUME, whose number differs between versions.
    """
    if len(raw) < 32 or raw[0] & ~_FLAG_REF != _TYPE_CODE:
        return "unknown (not a marshalled code object)"
    if raw[1 + 6 * 4] & ~_FLAG_REF == _TYPE_BYTES and raw[1 + 5 * 4] & ~_FLAG_REF != _TYPE_BYTES:
        return "3.8-3.10"
    if raw[1 + 5 * 4] & ~_FLAG_REF != _TYPE_BYTES:
        return "unknown (not a marshalled code object)"
    at = 1 + 5 * 4 + 1
    (length,) = struct.unpack_from("<i", raw, at)
    code = raw[at + 4: at + 4 + max(0, length)]
    resume = dis.opmap.get("RESUME")
    index = 0
    while index + 1 < len(code) and code[index] in _PREFIX_OPS:
        index += 2
    if resume is None or index >= len(code) or code[index] != resume:
        return "3.7 or 3.13+"
    if sys.version_info[:2] == (3, 11) and not _has_precall_before_calls(code):
        return "3.12"
    return None


def _has_precall_before_calls(code: bytes) -> bool:
    """3.11 bytecode puts PRECALL before every CALL; 3.12 dropped PRECALL."""
    precall, call = dis.opmap.get("PRECALL"), dis.opmap.get("CALL")
    ops = code[0::2]
    calls = [i for i, op in enumerate(ops) if op == call]
    return precall is not None and all(i > 0 and precall in ops[max(0, i - 8):i]
                                       for i in calls)


def profile_codes(texts: list[str]) -> list[CodeProfile]:
    """Profile every Lambda code string of one file, in one watched child process."""
    from tflint.errors import ModelFileError
    from tflint.loaders.keras_files import in_child

    profiles: list[CodeProfile | None] = []
    readable: list[str] = []
    for text in texts:
        raw = code_bytes(text)
        if raw is None:
            profiles.append(CodeProfile(error="not base64 text"))
        elif len(raw) > MAX_CODE_BYTES:
            profiles.append(CodeProfile(error=f"{len(raw)} bytes of code, over the "
                                              f"{MAX_CODE_BYTES} read"))
        elif (needs := layout_version(raw)) is not None:
            profiles.append(CodeProfile(needs=needs))
        else:
            profiles.append(None)
            readable.append(text)
    if readable:
        try:
            read = in_child(_profile_in_child, readable, CHILD_CPU_SECONDS, CHILD_MEMORY,
                            what="Lambda bytecode", reader="the bytecode reader")
            decoded = iter([CodeProfile.from_dict(item) for item in read])
        except ModelFileError as exc:
            decoded = iter([CodeProfile(error=str(exc))] * len(readable))
    return [profile if profile is not None else next(decoded) for profile in profiles]


def _profile_in_child(texts: list[str]) -> list[dict[str, Any]]:
    """In the child: unmarshal (never run) and disassemble each code object."""
    import marshal

    found = []
    for text in texts:
        raw = code_bytes(text) or b""
        try:
            code = marshal.loads(raw)
        except (ValueError, EOFError, TypeError) as exc:
            found.append(CodeProfile(error=f"bad marshal data: {exc}").to_dict())
            continue
        if not isinstance(code, types.CodeType):
            found.append(CodeProfile(error="not a code object").to_dict())
            continue
        found.append(profile_code(code).to_dict())
    return found


def profile_code(code: types.CodeType) -> CodeProfile:
    """The references of a code object and of the code objects in its constants."""
    profile = CodeProfile()
    pending, seen = [code], 0
    while pending and seen < MAX_CODE_OBJECTS:
        current = pending.pop()
        seen += 1
        _read_instructions(current, profile)
        pending.extend(c for c in current.co_consts if isinstance(c, types.CodeType))
    for name in ("globals", "chains", "imports", "strings"):
        setattr(profile, name, sorted(set(getattr(profile, name))))
    return profile


_ROOTS = frozenset({"LOAD_GLOBAL", "LOAD_NAME"})
_ATTRIBUTES = frozenset({"LOAD_ATTR", "LOAD_METHOD", "STORE_ATTR", "DELETE_ATTR"})
_CALLS = frozenset({"CALL", "PRECALL", "CALL_FUNCTION", "CALL_METHOD", "CALL_FUNCTION_KW"})
_SKIPPED = frozenset({"PUSH_NULL", "CACHE", "EXTENDED_ARG", "KW_NAMES"})


def _read_instructions(code: types.CodeType, profile: CodeProfile) -> None:
    instructions = [i for i in dis.get_instructions(code) if i.opname not in _SKIPPED]
    chain: list[str] = []
    for index, instruction in enumerate(instructions):
        name, value = instruction.opname, instruction.argval
        if name in _ATTRIBUTES and chain:
            chain.append(str(value))
            continue
        if chain:
            profile.chains.append(".".join(chain))
            chain = []
        if name in _ROOTS:
            profile.globals.append(str(value))
            chain = [str(value)]
            if value in ("getattr", "setattr", "delattr", "hasattr"):
                _attribute_call(instructions, index, profile)
        elif name in _ATTRIBUTES:
            profile.chains.append(f"?.{value}")
        elif name in ("IMPORT_NAME", "IMPORT_FROM"):
            profile.imports.append(str(value))
        elif name == "LOAD_CONST" and isinstance(value, str):
            profile.strings.append(value[:200])
    if chain:
        profile.chains.append(".".join(chain))


def _attribute_call(instructions: list[dis.Instruction], index: int,
                    profile: CodeProfile) -> None:
    """``getattr(obj, "name")`` is an attribute access; any other name is computed."""
    window = instructions[index + 1: index + 4]
    if (len(window) == 3 and window[1].opname == "LOAD_CONST"
            and isinstance(window[1].argval, str) and window[2].opname in _CALLS):
        profile.chains.append(f"?.{window[1].argval}")
    else:
        profile.computed_attributes += 1


def running_version() -> str:
    return _HERE


def read_programs(texts: list[str]) -> list[dict[str, Any]]:
    """The dataflow program (:mod:`tflint.dataflow`) of each Lambda code string, read in
    one watched child process; ``{"needs": VERSION}`` or ``{"error": ...}`` when a code
    string cannot be read here."""
    from tflint.errors import ModelFileError
    from tflint.loaders.keras_files import in_child

    results: list[dict[str, Any] | None] = []
    readable: list[str] = []
    for text in texts:
        raw = code_bytes(text)
        if raw is None:
            results.append({"error": "not base64 text"})
        elif len(raw) > MAX_CODE_BYTES:
            results.append({"error": f"{len(raw)} bytes of code, over the {MAX_CODE_BYTES} read"})
        elif (needs := layout_version(raw)) is not None:
            results.append({"needs": needs})
        else:
            results.append(None)
            readable.append(text)
    if readable:
        try:
            decoded = iter(in_child(_programs_in_child, readable, CHILD_CPU_SECONDS, CHILD_MEMORY,
                                    what="Lambda bytecode", reader="the bytecode reader"))
        except ModelFileError as exc:
            decoded = iter([{"error": str(exc)}] * len(readable))
    return [result if result is not None else next(decoded) for result in results]


def _programs_in_child(texts: list[str]) -> list[dict[str, Any]]:
    """In the child: unmarshal (never run) each code object and read its dataflow."""
    import marshal

    from tflint.dataflow import from_code

    found: list[dict[str, Any]] = []
    for text in texts:
        try:
            code = marshal.loads(code_bytes(text) or b"")
        except (ValueError, EOFError, TypeError) as exc:
            found.append({"error": f"bad marshal data: {exc}"})
            continue
        if not isinstance(code, types.CodeType):
            found.append({"error": "not a code object"})
            continue
        found.append({"program": from_code(code).to_dict()})
    return found
