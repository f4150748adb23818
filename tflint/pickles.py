"""What a pickle would import and call, read from its opcodes without unpickling it.

``pickletools.genops`` decodes the opcode stream; a small stack model keeps
the strings pushed so that ``STACK_GLOBAL`` (protocol 4+) is resolved to the
module and name it takes from the stack, through the memo when the strings
were memoized.  Nothing is imported and no object is built.
"""

from __future__ import annotations

import pickletools
from dataclasses import dataclass, field

#: Opcodes read at most from one pickle: a real one of a few MiB has far fewer.
MAX_OPCODES = 2_000_000
#: Opcodes that call what is on the stack.
CALLS = frozenset({"REDUCE", "INST", "OBJ", "NEWOBJ", "NEWOBJ_EX", "BUILD"})
_STRINGS = frozenset({"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "STRING",
                      "BINSTRING", "SHORT_BINSTRING"})
_MEMO_GETS = frozenset({"GET", "BINGET", "LONG_BINGET"})
_MEMO_PUTS = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})
#: A stack slot whose value is not a string this model tracks.
_OTHER = object()
_MARK = object()


@dataclass
class PickleReport:
    #: (module, name) of every GLOBAL / STACK_GLOBAL / INST, in stream order.
    globals: list[tuple[str, str]] = field(default_factory=list)
    #: Opcodes that call something (REDUCE, BUILD...), counted.
    calls: int = 0
    #: A STACK_GLOBAL whose module or name is not a string constant.
    computed_global: bool = False
    #: Why the stream could not be read to its end, if it could not.
    error: str | None = None
    #: Bytes the pickle took (a file may hold more after its STOP).
    length: int = 0


def looks_like_pickle(head: bytes) -> bool:
    """A protocol 2+ header, or a protocol 0/1 stream's usual first opcode."""
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return True
    return head[:1] in (b"c", b"(", b"]", b"}", b")") and b"\n" in head[:200]


def read_pickle(data: bytes, start: int = 0) -> PickleReport:
    """The references a pickle makes, from its opcodes alone."""
    import io

    report = PickleReport()
    stream = io.BytesIO(data)
    stream.seek(start)
    stack: list[object] = []
    memo: dict[int, object] = {}
    count = 0
    try:
        for opcode, arg, position in pickletools.genops(stream):
            count += 1
            if count > MAX_OPCODES:
                report.error = f"more than {MAX_OPCODES} opcodes"
                break
            name = opcode.name
            if name in CALLS:
                report.calls += 1
            if name in ("GLOBAL", "INST"):
                module, _, attribute = str(arg).partition(" ")
                report.globals.append((module, attribute))
            elif name == "STACK_GLOBAL":
                top = stack.pop() if stack else _OTHER
                below = stack.pop() if stack else _OTHER
                if isinstance(below, str) and isinstance(top, str):
                    report.globals.append((below, top))
                else:
                    report.computed_global = True
                stack.append(_OTHER)
                continue
            if name in _STRINGS:
                stack.append(arg if isinstance(arg, str) else str(arg))
            elif name in _MEMO_GETS:
                stack.append(memo.get(arg, _OTHER) if isinstance(arg, int) else _OTHER)
            elif name in _MEMO_PUTS:
                if isinstance(arg, int) and stack:
                    memo[arg] = stack[-1]
            elif name == "MEMOIZE":
                if stack:
                    memo[len(memo)] = stack[-1]
            elif name == "MARK":
                stack.append(_MARK)
            else:
                _apply(opcode, stack)
            if name == "STOP":
                report.length = (position or 0) + 1 - start
                break
    except (ValueError, KeyError, IndexError, EOFError) as exc:
        report.error = str(exc) or type(exc).__name__
    return report


def _apply(opcode: pickletools.OpcodeInfo, stack: list[object]) -> None:
    """Pop what the opcode takes, push what it leaves (as untracked values)."""
    before = opcode.stack_before
    if pickletools.markobject in before:
        while stack and stack.pop() is not _MARK:
            pass
        before = [item for item in before
                  if item not in (pickletools.markobject, pickletools.stackslice)]
    for _ in before:
        if stack:
            stack.pop()
    stack.extend(_OTHER for _ in opcode.stack_after)
