"""``--diff``: what the fixes would change in the model config, key by key.

A line per changed value, named by its path in the config, with layers named
by their names rather than their positions::

    ~ config.layers["act"].class_name: "CustomActivation" -> "ReLU"
    - config.layers["act"].config.alpha: 0.1
    + config.layers["act"].config.max_value: 6.0

``~`` a value changed, ``-`` a key or layer removed, ``+`` one added.
Unchanged parts of the config are not shown; long values are cut.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

#: Characters of a value shown on a line.
VALUE_LIMIT = 100


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


#: The side of a change where the key or layer does not exist.
MISSING: Any = _Missing()


@dataclass(frozen=True)
class ConfigChange:
    path: str
    before: Any
    after: Any

    def line(self) -> str:
        if self.before is MISSING:
            return f"+ {self.path}: {show(self.after)}"
        if self.after is MISSING:
            return f"- {self.path}: {show(self.before)}"
        return f"~ {self.path}: {show(self.before)} -> {show(self.after)}"


def show(value: Any, limit: int = VALUE_LIMIT) -> str:
    """A value as compact JSON, cut to ``limit`` characters."""
    text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def changes(original: Any, rewritten: Any) -> list[ConfigChange]:
    """Every changed value between two configs, in the original's order."""
    found: list[ConfigChange] = []
    _walk("", original, rewritten, found)
    return found


def config_diff(path: str, original: dict[str, Any], rewritten: dict[str, Any]) -> str:
    """The changes as text under a ``---``/``+++`` header; empty when nothing changed."""
    found = changes(original, rewritten)
    if not found:
        return ""
    lines = [f"--- {path} (model config)", f"+++ {path} (fixed model config)",
             *(change.line() for change in found)]
    return "".join(line + "\n" for line in lines)


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON values: in Python 1 == 1.0 == True, in a config false -> 0 is a change."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(map(_same, a, b))
    return bool(a == b)


def _key(path: str, key: str) -> str:
    plain = key.isidentifier()
    if not path:
        return key if plain else json.dumps(key)
    return f"{path}.{key}" if plain else f"{path}[{json.dumps(key)}]"


def _walk(path: str, a: Any, b: Any, found: list[ConfigChange]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in dict.fromkeys([*a, *b]):
            where = _key(path, str(key))
            if key not in b:
                found.append(ConfigChange(where, a[key], MISSING))
            elif key not in a:
                found.append(ConfigChange(where, MISSING, b[key]))
            else:
                _walk(where, a[key], b[key], found)
        return
    if isinstance(a, list) and isinstance(b, list):
        names_a, names_b = _names(a), _names(b)
        if names_a is not None and names_b is not None:
            _walk_named(path, dict(zip(names_a, a, strict=True)),
                        dict(zip(names_b, b, strict=True)), found)
            return
        nested = any(isinstance(item, dict | list) for item in (*a, *b))
        if nested and len(a) == len(b):
            for index, (item_a, item_b) in enumerate(zip(a, b, strict=True)):
                _walk(f"{path}[{index}]", item_a, item_b, found)
            return
    if not _same(a, b):
        found.append(ConfigChange(path or "(config)", a, b))


def _walk_named(path: str, a: dict[str, Any], b: dict[str, Any],
                found: list[ConfigChange]) -> None:
    """Lists of named entries (layers), matched by name: a removed layer is one line."""
    for name in dict.fromkeys([*a, *b]):
        where = f"{path}[{json.dumps(name)}]"
        if name not in b:
            found.append(ConfigChange(where, a[name], MISSING))
        elif name not in a:
            found.append(ConfigChange(where, MISSING, b[name]))
        else:
            _walk(where, a[name], b[name], found)


def _names(items: list[Any]) -> list[str] | None:
    """The entries' names when every entry is a dict with a distinct name (a layer list)."""
    names = []
    for item in items:
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str) and isinstance(item, dict) and isinstance(
                item.get("config"), dict):
            name = item["config"].get("name")
        if not isinstance(name, str):
            return None
        names.append(name)
    if not names or len(set(names)) != len(names):
        return None
    return names
