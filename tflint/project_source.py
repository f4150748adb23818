"""Is a module a config names the project's own code?  Read with ``ast``, never imported.

A custom layer saved by the project names its module (``mypkg.layers``); if
``mypkg/layers.py`` (or ``mypkg/layers/__init__.py``, also under ``src/``) in
one of the source folders defines or imports the class or function, loading
the model imports the project's own code, not a stranger's.
"""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

#: Source files larger than this are not parsed (generated code, data).
MAX_SOURCE_BYTES = 4 << 20


def find_definition(module: str, name: str, folders: tuple[str, ...]) -> str | None:
    """The file under ``folders`` where ``module`` defines (or imports) ``name``, or None."""
    parts = module.split(".")
    if not all(part.isidentifier() for part in parts):
        return None
    wanted = name.rsplit(">", 1)[-1].split(".", 1)[0]
    for folder in folders:
        for base in (Path(folder), Path(folder) / "src"):
            for candidate in (base.joinpath(*parts).with_suffix(".py"),
                              base.joinpath(*parts, "__init__.py")):
                if wanted in _top_level_names(str(candidate)):
                    return str(candidate)
    return None


def _top_level_names(path: str) -> frozenset[str]:
    """Classes, functions, assignments and imports at the top level of a Python file."""
    try:
        status = Path(path).stat()
    except OSError:
        return frozenset()
    if status.st_size > MAX_SOURCE_BYTES:
        return frozenset()
    return _parsed_names(path, status.st_mtime_ns, status.st_size)


@lru_cache(maxsize=256)  # keyed by the file's version, so an edited file is parsed again
def _parsed_names(path: str, mtime: int, size: int) -> frozenset[str]:
    try:
        tree = ast.parse(Path(path).read_bytes(), filename=path)
    except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
        return frozenset()
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return frozenset(names)
