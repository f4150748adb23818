"""What a model container holds besides the model, told from bytes, never loaded.

Two readers, both returning plain JSON-able facts that the security scan
judges (:mod:`tflint.analyses.security`):

* :func:`sniff_entry` tells the type of one zip entry from its content (and
  its name): a pickle (disassembled by :mod:`tflint.pickles`), a NumPy file
  holding pickled objects, Python source or bytecode, a ``.pth`` file, a
  shared library or executable, a nested archive, an HDF5 file;
* :func:`hdf5_external_data` lists the objects of an open HDF5 file whose data
  lives outside it: external storage, external links, virtual datasets and
  region references.  h5py reads only metadata here; it runs in the watched
  child process of :mod:`tflint.loaders.keras_files`.
"""

from __future__ import annotations

import ast
import re
from typing import Any

from tflint.pickles import looks_like_pickle, read_pickle

Payload = dict[str, Any]

#: Entries Keras itself writes into a ``.keras`` archive (assets/ holds vocabularies...).
KERAS_ENTRIES = frozenset({"config.json", "metadata.json", "model.weights.h5",
                           "model.weights.npz"})
ASSETS_PREFIX = "assets/"
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
NUMPY_SIGNATURE = b"\x93NUMPY"
_ZIP_SIGNATURE = b"PK\x03\x04"
_NATIVE = (
    (b"\x7fELF", "a shared library or executable (ELF)"),
    (b"MZ", "a Windows executable or DLL"),
    (b"\xcf\xfa\xed\xfe", "a Mach-O library or executable"),
    (b"\xce\xfa\xed\xfe", "a Mach-O library or executable"),
    (b"\xfe\xed\xfa\xcf", "a Mach-O library or executable"),
    (b"\xca\xfe\xba\xbe", "a Mach-O universal binary"),
)
_NATIVE_SUFFIXES = (".so", ".dll", ".dylib", ".pyd", ".exe")
_SOURCE_SUFFIXES = (".py", ".pyw", ".pyi")
_PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".dill", ".pt", ".pth.tar", ".bin", ".dat")
#: Text entries longer than this are not parsed as Python to find out whether they are code.
MAX_SOURCE_SNIFF = 1 << 20
#: HDF5 objects visited at most in one file.
MAX_HDF5_OBJECTS = 200_000
_IMPORT_LINE = re.compile(rb"^\s*(?:import\s+\w|from\s+[\w.]+\s+import\s)", re.MULTILINE)


def is_keras_entry(name: str) -> bool:
    return name in KERAS_ENTRIES


def needs_whole_entry(name: str, head: bytes) -> bool:
    """Whether the type seen in ``head`` needs the whole entry (pickles, sources)."""
    lower = name.lower()
    return (looks_like_pickle(head) or head.startswith(NUMPY_SIGNATURE)
            or lower.endswith(_SOURCE_SUFFIXES + _PICKLE_SUFFIXES + (".pth",))
            or head.startswith(b"#!") or _may_be_text(head))


def _may_be_text(head: bytes) -> bool:
    return bool(head) and b"\0" not in head and _IMPORT_LINE.search(head) is not None


def sniff_entry(name: str, data: bytes) -> Payload | None:
    """The payload an entry is, or None for data (text, weights, images...).

    ``data`` is the entry's head, or the whole entry when
    :func:`needs_whole_entry` asked for it.
    """
    lower = name.lower()
    for magic, what in _NATIVE:
        if data.startswith(magic):
            return _payload(name, "native", what)
    if lower.endswith(_NATIVE_SUFFIXES):
        return _payload(name, "native", "a shared library (by its name)")
    if lower.endswith(".pth") and not looks_like_pickle(data[:64]) \
            and not data.startswith(_ZIP_SIGNATURE):
        return _payload(name, "pth", "a Python path configuration (.pth) file: its "
                                     "'import' lines run when placed in site-packages")
    if lower.endswith((".pyc", ".pyo")) or (len(data) >= 16 and data[2:4] == b"\r\n"
                                            and _is_pyc_magic(data[:4])):
        return _payload(name, "python-bytecode", "compiled Python bytecode (.pyc)")
    if looks_like_pickle(data[:64]):
        found = _pickle_payload(name, data, 0, "pickle")
        # Without a protocol 2+ header, text that does not read to a STOP is text.
        if data[:1] == b"\x80" or found["error"] is None:
            return found
    if data.startswith(NUMPY_SIGNATURE):
        return _numpy_payload(name, data)
    if data.startswith(_ZIP_SIGNATURE):
        return _payload(name, "archive", "a nested zip archive")
    if data.startswith(HDF5_SIGNATURE):
        return _payload(name, "hdf5", "HDF5 file")
    if lower.endswith(_SOURCE_SUFFIXES):
        return _payload(name, "python-source", "a Python source file")
    if data.startswith(b"#!"):
        return _payload(name, "script", "an executable script (#! line)")
    if _may_be_text(data[:4096]) and len(data) <= MAX_SOURCE_SNIFF and _is_python(data):
        return _payload(name, "python-source", "Python source (parsed from its content)")
    return None


def _payload(name: str, kind: str, what: str, **extra: Any) -> Payload:
    return {"entry": name, "kind": kind, "what": what, **extra}


def _is_pyc_magic(head: bytes) -> bool:
    # Every CPython 3 magic number is a little-endian word in 3000..3999 followed by \r\n.
    word = head[0] | head[1] << 8
    return 3000 <= word < 4000


def _is_python(data: bytes) -> bool:
    """Text that parses as Python and imports something: code, not a vocabulary."""
    try:
        tree = ast.parse(data.decode("utf-8"))
    except (SyntaxError, UnicodeDecodeError, ValueError, RecursionError, MemoryError):
        return False
    return any(isinstance(node, ast.Import | ast.ImportFrom) for node in ast.walk(tree))


def _pickle_payload(name: str, data: bytes, start: int, what: str) -> Payload:
    report = read_pickle(data, start)
    return _payload(name, "pickle", what, globals=[list(g) for g in report.globals],
                    calls=report.calls, computed_global=report.computed_global,
                    error=report.error)


def _numpy_payload(name: str, data: bytes) -> Payload | None:
    """A ``.npy`` whose dtype holds Python objects: the array is a pickle after the header."""
    if len(data) < 10:
        return None
    major = data[6]
    if major == 1:
        length, start = int.from_bytes(data[8:10], "little"), 10
    else:
        length, start = int.from_bytes(data[8:12], "little"), 12
    header = data[start:start + length]
    try:
        fields = ast.literal_eval(header.decode("latin-1"))
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    descr = fields.get("descr") if isinstance(fields, dict) else None
    if "O" not in repr(descr):
        return None
    return _pickle_payload(name, data, start + length, "NumPy array of Python objects (pickled)")


# -- HDF5 ------------------------------------------------------------------------------------


def hdf5_external_data(handle: Any, file_label: str) -> list[Payload]:
    """Objects of an open h5py file whose data lives outside it, or points into it by region.

    Links are listed without being followed: an external link's file is
    never opened, an external dataset's file never read.  The low-level API
    keeps this to one pass over the objects and one over the links.
    """
    from h5py import h5a, h5d, h5l, h5o

    found: list[Payload] = []
    file_id = handle.id
    objects: list[tuple[bytes, bool, int]] = []

    def add(path: bytes | str, kind: str, target: str) -> None:
        found.append({"file": file_label, "object": "/" + _text(path).lstrip("/"),
                      "kind": kind, "target": target})

    def collect(name: bytes, info: Any) -> bool | None:
        objects.append((name, info.type == h5o.TYPE_DATASET, info.num_attrs))
        return True if len(objects) > MAX_HDF5_OBJECTS else None

    root = h5o.get_info(file_id)
    objects.append((b".", False, root.num_attrs))  # the visit leaves out the root itself
    h5o.visit(file_id, collect, info=True)
    if len(objects) > MAX_HDF5_OBJECTS:
        add("", "unscanned", f"more than {MAX_HDF5_OBJECTS} objects")
        objects = objects[:MAX_HDF5_OBJECTS]

    def link(name: bytes, info: Any) -> None:
        if info.type == h5l.TYPE_EXTERNAL:
            target, path = file_id.links.get_val(name)
            add(name, "external-link", f"{_text(target)}:{_text(path)}")

    file_id.links.visit(link, info=True)
    for name, is_dataset, attributes in objects:
        location = name if name != b"." else b"/"
        if is_dataset:
            dataset = h5d.open(file_id, location)
            plist = dataset.get_create_plist()
            for index in range(plist.get_external_count()):
                add(name, "external-storage", _text(plist.get_external(index)[0]))
            if plist.get_layout() == h5d.VIRTUAL:
                for index in range(plist.get_virtual_count()):
                    add(name, "virtual-dataset", f"{_text(plist.get_virtual_filename(index))}:"
                                                 f"{_text(plist.get_virtual_dsetname(index))}")
            if _has_region_reference(dataset.dtype):
                add(name, "region-reference", "dataset of region references")
        if attributes:
            owner = h5o.open(file_id, location)
            for index in range(attributes):
                attribute = h5a.open(owner, index=index)
                if _has_region_reference(attribute.dtype):
                    add(name if name != b"." else "", "region-reference",
                        f"attribute {_text(attribute.name)!r}")
    return found


def _has_region_reference(dtype: Any) -> bool:
    import h5py

    if dtype.fields:
        return any(_has_region_reference(field[0]) for field in dtype.fields.values())
    if dtype.subdtype is not None:
        return _has_region_reference(dtype.subdtype[0])
    return h5py.check_dtype(ref=dtype) is h5py.RegionReference


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
