"""Installed distributions' entry points and versions, read without ``importlib.metadata``.

Importing ``importlib.metadata`` costs 20–50 ms (it pulls in ``email``,
``zipfile``, ``pathlib``...), a large part of a lint's start-up.  This module
finds the same distributions the same way it does: every ``*.dist-info`` and
``*.egg-info`` folder of every ``sys.path`` entry, in ``sys.path`` order, the
first distribution of a name hiding later ones.  Where it cannot be sure to
agree (a zip archive or an ``.egg`` on ``sys.path``, another finder that
reports distributions), it asks ``importlib.metadata`` instead.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from functools import cache, reduce
from importlib import import_module
from typing import Any, NamedTuple

_METADATA_SUFFIXES = (".dist-info", ".egg-info")
_ENTRY_POINT_VALUE = re.compile(
    r"(?P<module>[\w.]+)\s*(:\s*(?P<attr>[\w.]+)\s*)?((?P<extras>\[.*\])\s*)?$"
)


class EntryPoint(NamedTuple):
    """One entry point: ``name = value`` in the section ``group`` of ``entry_points.txt``."""

    name: str
    value: str
    group: str

    @property
    def module(self) -> str:
        match = _ENTRY_POINT_VALUE.match(self.value)
        if match is None:
            raise ValueError(f"malformed entry point value {self.value!r}")
        return match.group("module")

    @property
    def attr(self) -> str | None:
        match = _ENTRY_POINT_VALUE.match(self.value)
        return match.group("attr") if match else None

    def load(self) -> Any:
        """The module, or the object in it, that the entry point names."""
        module = import_module(self.module)
        return reduce(getattr, filter(None, (self.attr or "").split(".")), module)


class _NeedsImportlib(Exception):
    """The environment has something only ``importlib.metadata`` reads right."""


def entry_points(group: str) -> list[EntryPoint]:
    """The entry points of ``group`` of every installed distribution, as importlib finds them."""
    try:
        by_group = _entry_points_by_group(tuple(sys.path))
    except _NeedsImportlib:
        from importlib import metadata

        return [EntryPoint(e.name, e.value, e.group)
                for e in metadata.entry_points(group=group)]
    return list(by_group.get(group, ()))


@cache
def _entry_points_by_group(path: tuple[str, ...]) -> dict[str, tuple[EntryPoint, ...]]:
    """Every entry point on ``path``, read once per process (rules and targets both ask)."""
    by_group: dict[str, list[EntryPoint]] = {}
    for folder in _metadata_folders(path):
        for entry in _parse_entry_points(_read(folder, "entry_points.txt")):
            by_group.setdefault(entry.group, []).append(entry)
    return {group: tuple(entries) for group, entries in by_group.items()}


def version(distribution: str) -> str | None:
    """The installed version of ``distribution``, or None when it is not installed."""
    wanted = _normalize(distribution)
    try:
        folder = next((f for f in _metadata_folders(tuple(sys.path))
                       if _normalize(_name_of(os.path.basename(f))) == wanted), None)
    except _NeedsImportlib:
        from importlib import metadata

        try:
            return metadata.version(distribution)
        except metadata.PackageNotFoundError:
            return None
    if folder is None:
        return None
    text = _read(folder, "METADATA") or _read(folder, "PKG-INFO")
    for line in text.splitlines():
        if not line.strip():
            break  # the headers end at the first blank line
        key, _, value = line.partition(":")
        if key.strip().lower() == "version":
            return value.strip()
    return None


def _metadata_folders(path: tuple[str, ...]) -> Iterator[str]:
    """Each distribution's metadata folder, the first of each name only."""
    _check_finders()
    seen: set[str] = set()
    for entry in path:
        root = entry or "."
        try:
            children = os.listdir(root)
        except OSError:
            if os.path.isfile(root):
                raise _NeedsImportlib from None  # a zip archive
            continue
        if os.path.basename(root).lower().endswith(".egg"):
            raise _NeedsImportlib
        # importlib groups a folder's entries by name, in the order a name first appears.
        by_name: dict[str, list[str]] = {}
        for child in children:
            if child.lower().endswith(_METADATA_SUFFIXES):
                by_name.setdefault(_normalize(_name_of(child)), []).append(child)
        for name, group in by_name.items():
            for child in group:
                if name not in seen:
                    seen.add(name)
                    yield os.path.join(entry, child)


def _check_finders() -> None:
    """Only the standard path finder may report distributions, or importlib must be asked."""
    from importlib.machinery import PathFinder

    for finder in sys.meta_path:
        if finder is not PathFinder and getattr(finder, "find_distributions", None):
            raise _NeedsImportlib


def _name_of(folder_name: str) -> str:
    return folder_name.lower().rpartition(".")[0].partition("-")[0]


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower().replace("-", "_")


def _read(folder: str, name: str) -> str:
    try:
        with open(os.path.join(folder, name), encoding="utf-8") as handle:
            return handle.read()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError):
        return ""


def _parse_entry_points(text: str) -> Iterator[EntryPoint]:
    """``entry_points.txt`` as importlib reads it: ``[group]`` lines, then ``name = value``."""
    group = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            group = line.strip("[]")
            continue
        name, equals, value = line.partition("=")
        if group is not None and equals:
            yield EntryPoint(name.strip(), value.strip(), group)
