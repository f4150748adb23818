"""Read the model config out of the three Keras containers, within limits.

Each reader returns ``(config, facts)``: ``config`` is the parsed model
config normalized to the ``{"class_name": ..., "config": ...}`` top level,
``facts`` tells what the container said about the model (Keras version,
backend, whether weights are present).  Nothing stored in the file is
executed, imported or unmarshalled: the config is JSON and is only parsed.

Every size is checked before the data is read, so a hostile file (a zip bomb,
a huge attribute, a JSON document nested 100 000 deep) costs a quick
:class:`ModelFileError`, not memory or a ``RecursionError``.
"""

from __future__ import annotations

import faulthandler
import json
import os
import re
import select
import signal
import struct
import time
import zipfile
import zlib
from array import array
from itertools import accumulate
from typing import Any

from tflint import containers
from tflint.errors import ModelFileError

Facts = dict[str, Any]

MIB = 1 << 20
#: A config of 10 000 layers is about 20 MiB of JSON.
MAX_CONFIG_BYTES = 64 * MIB
MAX_METADATA_BYTES = 1 * MIB
#: Real configs nest about 15 deep; nested models add 4 levels each.
MAX_JSON_DEPTH = 200
#: A .keras archive holds a handful of files (plus assets).
MAX_ZIP_ENTRIES = 10_000
#: Deflate reaches about 1000:1 only on degenerate data; real entries stay far below.
MAX_COMPRESSION_RATIO = 200
#: Entries smaller than this are never a memory problem, whatever their ratio.
RATIO_MIN_SIZE = 1 * MIB

CONFIG_ENTRY = "config.json"
METADATA_ENTRY = "metadata.json"
WEIGHTS_ENTRY = "model.weights.h5"


# -- JSON ---------------------------------------------------------------------

# A JSON string; removed before counting brackets so that "[" inside a string
# does not count.  Unrolled form: no backtracking blow-up on long strings.
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))
# Openers become +1 and closers -1 once read as signed bytes.
_DEPTH_STEP = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")


def json_depth(text: str) -> int:
    """The deepest bracket nesting of a JSON text, without parsing it.

    Linear and iterative, so it is safe on any input; unbalanced text gives a
    meaningless number that the parser then rejects anyway.
    """
    outside_strings = _JSON_STRING.sub("", text).encode("utf-8", "replace")
    steps = array("b")
    steps.frombytes(outside_strings.translate(_DEPTH_STEP, _NOT_BRACKETS))
    return max(accumulate(steps), default=0)


def parse_json(data: bytes | str, what: str = "JSON") -> Any:
    """Parse JSON text with size and nesting limits; errors name the position."""
    if len(data) > MAX_CONFIG_BYTES:
        raise ModelFileError(
            f"{what} is too large ({len(data) / MIB:.0f} MiB, limit {MAX_CONFIG_BYTES // MIB} MiB)"
        )
    if isinstance(data, bytes):
        text = decode_json_bytes(data, what)
    else:
        text = data
    depth = json_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise ModelFileError(
            f"{what} is nested too deeply ({depth} levels, limit {MAX_JSON_DEPTH})"
        )
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelFileError(
            f"invalid {what} at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except (ValueError, RecursionError) as exc:  # e.g. an integer of 5000 digits
        raise ModelFileError(f"invalid {what}: {exc}") from None


def decode_json_bytes(data: bytes, what: str = "JSON") -> str:
    """JSON bytes as text, in the encoding ``json.loads`` itself picks for bytes.

    Keras reads ``config.json`` as bytes and hands them to ``json.loads``,
    which tells UTF-8 (with or without a BOM), UTF-16 and UTF-32 from the
    first bytes: a config saved in UTF-16 loads in Keras, so it is read here too.
    """
    encoding = json.detect_encoding(data)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        name = "UTF-8" if encoding.startswith("utf-8") else encoding.upper()
        raise ModelFileError(f"{what} is not {name} text (byte {exc.start})") from None


def as_model_config(document: Any, what: str = "JSON") -> dict[str, Any]:
    """Normalize a parsed config to the ``{"class_name", "config"}`` top level.

    Accepts ``model.to_json()`` output and ``.keras`` ``config.json`` (both
    already in that form) and a bare model config (the inner ``config`` dict,
    recognized by its ``layers``).
    """
    if isinstance(document, dict):
        if isinstance(document.get("class_name"), str) and "config" in document:
            return document
        if isinstance(document.get("layers"), list):
            class_name = "Functional" if "input_layers" in document else "Sequential"
            return {"class_name": class_name, "config": document}
    raise ModelFileError(f"{what} is not a Keras model config (no class_name/config)")


def read_json_file(path: str) -> tuple[dict[str, Any], Facts]:
    """A Keras model config saved as JSON (``model.to_json()``)."""
    try:
        size = os.path.getsize(path)
        if size > MAX_CONFIG_BYTES:
            raise ModelFileError(
                f"JSON file is too large ({size / MIB:.0f} MiB, "
                f"limit {MAX_CONFIG_BYTES // MIB} MiB)"
            )
        with open(path, "rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ModelFileError(f"cannot read file: {exc.strerror or exc}") from None
    config = as_model_config(parse_json(data))
    facts: Facts = {
        "container": "json",
        "keras_version": _text_or_none(config.get("keras_version")),
        "backend": _text_or_none(config.get("backend")),
        "has_weights": False,
        "layers_with_weights": [],
    }
    return config, facts


# -- .keras (zip) ---------------------------------------------------------------

_EOCD_SIGNATURE = b"PK\x05\x06"
_EOCD_SIZE = 22
_MAX_ZIP_COMMENT = 0xFFFF


def _declared_entry_count(path: str) -> int | None:
    """Entry count from the end-of-central-directory record, before zipfile parses it.

    ``None`` when the record is not found or uses the zip64 escape; zipfile
    then decides.  Spares reading a central directory of millions of entries.
    """
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        tail_size = min(size, _EOCD_SIZE + _MAX_ZIP_COMMENT)
        handle.seek(size - tail_size)
        tail = handle.read(tail_size)
    at = tail.rfind(_EOCD_SIGNATURE)
    if at < 0 or len(tail) - at < _EOCD_SIZE:
        return None
    (total,) = struct.unpack_from("<H", tail, at + 10)
    return None if total == 0xFFFF else total


def _unsafe_reason(name: str) -> str | None:
    """Why an entry name could escape an extraction folder, if it could."""
    if "\\" in name:
        return "backslash in path"
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "absolute path"
    if ".." in name.split("/"):
        return "parent directory reference"
    if "\x00" in name:
        return "NUL byte in path"
    return None


def check_zip_directory(infos: list[zipfile.ZipInfo]) -> list[dict[str, str]]:
    """Refuse archives too hostile to read at all, before reading any entry.

    Entry names that could escape an extraction folder do not stop the lint:
    they come back as findings for the security scan (the entry is then
    never read).  A name used twice does: which entry Keras reads is unknown.
    """
    if len(infos) > MAX_ZIP_ENTRIES:
        raise ModelFileError(
            f"zip archive has too many entries ({len(infos)}, limit {MAX_ZIP_ENTRIES})"
        )
    seen: set[str] = set()
    unsafe: list[dict[str, str]] = []
    for info in infos:
        name = info.filename
        reason = _unsafe_reason(name)
        if reason is not None:
            unsafe.append({"entry": name, "reason": reason})
        if name in seen:
            # zipfile would silently read the last one, Keras maybe another.
            raise ModelFileError(f"zip archive has duplicate entries named {name!r}")
        seen.add(name)
        if info.file_size > RATIO_MIN_SIZE and (
            info.compress_size == 0 or info.file_size > MAX_COMPRESSION_RATIO * info.compress_size
        ):
            ratio = info.file_size / max(info.compress_size, 1)
            raise ModelFileError(
                f"zip entry {name!r} expands {ratio:.0f}:1 to {info.file_size / MIB:.0f} MiB "
                f"(zip bomb? limit {MAX_COMPRESSION_RATIO}:1)"
            )
    return unsafe


def _read_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """An entry's bytes, refusing more than ``limit`` whatever its header declares."""
    if info.file_size > limit:
        raise ModelFileError(
            f"zip entry {info.filename!r} is too large "
            f"({info.file_size / MIB:.0f} MiB, limit {limit // MIB} MiB)"
        )
    if info.flag_bits & 0x1:
        raise ModelFileError(f"zip entry {info.filename!r} is encrypted")
    with archive.open(info) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise ModelFileError(
            f"zip entry {info.filename!r} holds more data than its header declares"
        )
    return data


def read_keras_zip(path: str) -> tuple[dict[str, Any], Facts]:
    """The ``config.json`` and ``metadata.json`` of a Keras 3 ``.keras`` archive, and what
    else the archive holds (every entry sniffed, the weights' HDF5 links listed)."""
    try:
        declared = _declared_entry_count(path)
        if declared is not None and declared > MAX_ZIP_ENTRIES:
            raise ModelFileError(
                f"zip archive has too many entries ({declared}, limit {MAX_ZIP_ENTRIES})"
            )
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            unsafe_names = check_zip_directory(infos)
            skipped = {item["entry"] for item in unsafe_names}
            by_name = {info.filename: info for info in infos if info.filename not in skipped}
            config_info = by_name.get(CONFIG_ENTRY)
            if config_info is None:
                raise ModelFileError("zip archive is not a Keras model (no config.json)")
            config_data = _read_entry(archive, config_info, MAX_CONFIG_BYTES)
            metadata_info = by_name.get(METADATA_ENTRY)
            metadata_data = (
                None
                if metadata_info is None
                else _read_entry(archive, metadata_info, MAX_METADATA_BYTES)
            )
            entries, unread, hdf5_entries = _sniff_entries(archive, list(by_name.values()))
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise ModelFileError(f"not a valid zip archive (truncated?): {exc}") from None
    except ValueError as exc:  # e.g. an entry name flagged UTF-8 that is not
        raise ModelFileError(f"not a valid zip archive: {exc}") from None
    except NotImplementedError as exc:  # compression method zipfile lacks
        raise ModelFileError(f"cannot read zip archive: {exc}") from None
    except OSError as exc:
        raise ModelFileError(f"cannot read zip archive: {exc.strerror or exc}") from None

    config = as_model_config(parse_json(config_data, "config.json"), "config.json")
    metadata: Any = {}
    if metadata_data is not None:
        metadata = parse_json(metadata_data, "metadata.json")
        if not isinstance(metadata, dict):
            raise ModelFileError("metadata.json is not a JSON object")
    hdf5: list[dict[str, Any]] = []
    for entry in hdf5_entries:
        hdf5.extend(_zipped_hdf5_links(path, by_name[entry]))
    facts: Facts = {
        "container": "keras",
        "keras_version": _text_or_none(metadata.get("keras_version")),
        "backend": _text_or_none(metadata.get("backend")),
        "date_saved": _text_or_none(metadata.get("date_saved")),
        # Which layers have weights is not read from the weights file.
        "has_weights": WEIGHTS_ENTRY in by_name,
        "layers_with_weights": [],
        "container_scan": {"entries": entries, "unsafe_names": unsafe_names, "hdf5": hdf5,
                           "unread": unread},
    }
    return config, facts


#: Bytes of one entry read to tell its type.
SNIFF_BYTES = 4096
#: A pickle or source entry is read whole up to this size to be disassembled...
MAX_PAYLOAD_BYTES = 64 * MIB
#: ... and all of them together up to this: past it, entries are reported unread.
MAX_PAYLOAD_TOTAL = 256 * MIB


def _sniff_entries(archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo],
                   ) -> tuple[list[dict[str, Any]], list[dict[str, str]], list[str]]:
    """(payloads found, entries that could not be checked, HDF5 entries) of an archive."""
    payloads: list[dict[str, Any]] = []
    unread: list[dict[str, str]] = []
    hdf5: list[str] = []
    budget = MAX_PAYLOAD_TOTAL
    for info in infos:
        name = info.filename
        # ZipInfo.is_dir() indexes the name: an empty one (a damaged archive) has no last char.
        if name.endswith("/") or name in (CONFIG_ENTRY, METADATA_ENTRY):
            continue
        if info.flag_bits & 0x1:
            unread.append({"entry": name, "reason": "encrypted"})
            continue
        with archive.open(info) as handle:
            head = handle.read(SNIFF_BYTES)
        if head.startswith(containers.HDF5_SIGNATURE):
            hdf5.append(name)
            if name == WEIGHTS_ENTRY:
                continue
        data = head
        if info.file_size > len(head) and containers.needs_whole_entry(name, head):
            if info.file_size > min(MAX_PAYLOAD_BYTES, budget):
                unread.append({"entry": name, "reason": f"{info.file_size / MIB:.0f} MiB, over "
                               f"the {MAX_PAYLOAD_BYTES // MIB} MiB read to check it"})
                continue
            data = _read_entry(archive, info, MAX_PAYLOAD_BYTES)
            budget -= len(data)
        found = containers.sniff_entry(name, data)
        if found is not None and not (found["kind"] == "hdf5" and name == WEIGHTS_ENTRY):
            payloads.append(found)
    return payloads, unread, hdf5


def _zipped_hdf5_links(path: str, info: zipfile.ZipInfo) -> list[dict[str, Any]]:
    """The external data of an HDF5 file inside the archive, read in the watched child."""
    import h5py  # noqa: F401  (imported once, before forking)

    budget = H5_CPU_SECONDS + info.file_size / H5_BYTES_PER_CPU_SECOND
    result: list[dict[str, Any]] = in_child(_read_zipped_hdf5_links, [path, info.filename],
                                            budget)
    return result


class _Window:
    """A read-only file object over ``length`` bytes of ``handle`` from ``start``."""

    def __init__(self, handle: Any, start: int, length: int) -> None:
        self.handle, self.start, self.length, self.position = handle, start, length, 0

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self.position, 2: self.length}[whence]
        self.position = max(0, base + offset)
        return self.position

    def tell(self) -> int:
        return self.position

    def read(self, size: int = -1) -> bytes:
        left = max(0, self.length - self.position)
        size = left if size is None or size < 0 else min(size, left)
        self.handle.seek(self.start + self.position)
        data: bytes = self.handle.read(size)
        self.position += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _read_zipped_hdf5_links(arguments: list[str]) -> list[dict[str, Any]]:
    """In the child: open the HDF5 entry in place (stored) or from a temporary copy."""
    import tempfile

    import h5py

    path, name = arguments
    try:
        with zipfile.ZipFile(path) as archive, open(path, "rb") as raw:
            info = archive.getinfo(name)
            if info.compress_type == zipfile.ZIP_STORED:
                raw.seek(info.header_offset)
                header = raw.read(30)
                if header[:4] != b"PK\x03\x04":
                    raise ModelFileError(f"zip entry {name!r} has a damaged local header")
                name_length, extra_length = struct.unpack_from("<HH", header, 26)
                start = info.header_offset + 30 + name_length + extra_length
                with h5py.File(_Window(raw, start, info.file_size), "r") as handle:
                    return containers.hdf5_external_data(handle, name)
            with tempfile.TemporaryFile() as copy:
                with archive.open(info) as source:
                    while chunk := source.read(1 << 20):
                        copy.write(chunk)
                copy.seek(0)
                with h5py.File(copy, "r") as handle:
                    return containers.hdf5_external_data(handle, name)
    except ModelFileError:
        raise
    except (OSError, KeyError, ValueError, RuntimeError, zipfile.BadZipFile, zlib.error) as exc:
        return [{"file": name, "object": "/", "kind": "unreadable", "target": str(exc)[:200]}]


# -- legacy HDF5 ------------------------------------------------------------------


def _attribute_size(attrs: Any, name: str) -> int | None:
    """Bytes an attribute will take once read, or ``None`` for variable-length data.

    Newer Keras writes ``model_config`` as a variable-length string, whose
    length HDF5 tells only by reading it; it lives uncompressed in the file,
    so reading it costs at most the file's size.
    """
    attr_id = attrs.get_id(name)
    dtype = attr_id.dtype
    if dtype.kind == "O":
        return None
    count = 1
    for dim in attr_id.shape or ():
        count *= dim
    return count * dtype.itemsize


def _too_large(name: str, size: int, limit: int) -> ModelFileError:
    return ModelFileError(
        f"HDF5 attribute {name!r} is too large ({size / MIB:.0f} MiB, limit {limit // MIB} MiB)"
    )


def _read_attribute(attrs: Any, name: str, limit: int) -> Any:
    """An attribute's value, refused when it is larger than ``limit`` bytes."""
    size = _attribute_size(attrs, name)
    if size is not None and size > limit:
        raise _too_large(name, size, limit)
    value = attrs[name]
    if size is None:
        # Variable-length data: its length can only be checked once read.
        items = value.reshape(-1).tolist() if hasattr(value, "reshape") else [value]
        size = sum(len(item) for item in items if isinstance(item, str | bytes))
        if size > limit:
            raise _too_large(name, size, limit)
    return value


def _attribute_text(value: Any, name: str) -> str:
    """A string attribute as text, whether stored fixed-length, variable or as a 1-array."""
    if hasattr(value, "shape") and getattr(value, "shape", ()) not in ((), None):
        if value.size != 1:
            raise ModelFileError(f"HDF5 attribute {name!r} is not a single string")
        value = value.reshape(-1)[0]
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ModelFileError(
                f"HDF5 attribute {name!r} is not UTF-8 (byte {exc.start})"
            ) from None
    if isinstance(value, str):
        return value
    raise ModelFileError(f"HDF5 attribute {name!r} is not a string")


def _text_or_none(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return value if isinstance(value, str) else None


def _names(value: Any) -> list[str]:
    """A list-of-names attribute (fixed bytes or variable str) as text."""
    items = value.reshape(-1).tolist() if hasattr(value, "reshape") else [value]
    return [
        item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item) for item in items
    ]


def _layers_with_weights(weights: Any) -> list[str]:
    """Layer names whose ``model_weights`` group lists at least one weight."""
    if "layer_names" not in weights.attrs:
        return []
    names = _names(_read_attribute(weights.attrs, "layer_names", MAX_CONFIG_BYTES))
    found = []
    for name in names:
        group = weights.get(name)
        if group is None or "weight_names" not in group.attrs:
            continue
        shape = group.attrs.get_id("weight_names").shape
        if shape and shape[0] > 0:
            found.append(name)
    return found


def read_h5(path: str) -> tuple[dict[str, Any], Facts]:
    """The ``model_config`` root attribute of a legacy Keras HDF5 model file."""
    import h5py  # noqa: F401  (only HDF5 files pay for importing it, once, before forking)

    text, training_text, facts = _in_child(_read_h5_metadata, path)
    config = as_model_config(parse_json(text, "model_config"), "HDF5 model_config")
    facts["training_config"] = (
        None if training_text is None else parse_json(training_text, "training_config")
    )
    for key in ("keras_version", "backend"):
        if facts[key] is None:
            facts[key] = _text_or_none(config.get(key))
    return config, facts


def _read_h5_metadata(path: str) -> tuple[str, str | None, Facts]:
    """The config and training config texts and the facts, read with h5py."""
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            attrs = handle.attrs
            if "model_config" not in attrs:
                raise ModelFileError("HDF5 file has no Keras model config (weights-only file?)")
            raw = _read_attribute(attrs, "model_config", MAX_CONFIG_BYTES)
            text = _attribute_text(raw, "model_config")
            facts: Facts = {"container": "h5"}
            for key in ("keras_version", "backend"):
                value = (
                    _read_attribute(attrs, key, MAX_METADATA_BYTES)
                    if key in attrs
                    else None
                )
                facts[key] = _text_or_none(value)
            weights = handle.get("model_weights")
            facts["has_weights"] = isinstance(weights, h5py.Group)
            facts["layers_with_weights"] = (
                _layers_with_weights(weights) if facts["has_weights"] else []
            )
            # Loading with compile=True deserializes the loss, metrics and
            # optimizer named here: read it so that it can be audited too.
            training_text = (
                _attribute_text(
                    _read_attribute(attrs, "training_config", MAX_CONFIG_BYTES), "training_config"
                )
                if "training_config" in attrs
                else None
            )
            # Loading reads every weight: data stored outside the file is read with it.
            facts["container_scan"] = {
                "entries": [], "unsafe_names": [], "unread": [],
                "hdf5": containers.hdf5_external_data(handle, ""),
            }
    except ModelFileError:
        raise
    except OSError as exc:
        # h5py puts the HDF5 reason in the message ("truncated file: eof = ...").
        reason = str(exc).split("(", 1)[-1].rstrip(")") if "(" in str(exc) else str(exc)
        raise ModelFileError(f"cannot read HDF5 file: {reason}") from None
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise ModelFileError(f"cannot read HDF5 file: {exc}") from None
    return text, training_text, facts


# -- libhdf5 in a child process -----------------------------------------------------------------

#: CPU seconds libhdf5 may spend on one file's attributes, plus one per
#: ``H5_BYTES_PER_CPU_SECOND`` of file: a 3000-layer model needs 0.2 s, while
#: some damaged files send libhdf5 into an endless loop.
H5_CPU_SECONDS = 1.0
H5_BYTES_PER_CPU_SECOND = 16 * MIB
#: Wall-clock bound, for a child that waits rather than spins.
H5_WALL_SECONDS = 30.0
#: Address space the child may add to what it inherits.  libhdf5 and h5py
#: need about five times a variable-length attribute's size to read it, and
#: that size is only known once read: this bounds a hostile one (and the
#: configs readable from HDF5 to about 30 MiB, 15 000 layers).
H5_CHILD_MEMORY = 192 * MIB


def _cpu_seconds(pid: int) -> float | None:
    """CPU time a child has used so far (Linux ``/proc``); None where unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _limit_address_space(extra: int) -> None:
    """Let this process grow by at most ``extra`` bytes of address space (Linux)."""
    try:
        import resource  # POSIX only, like fork

        with open("/proc/self/status", "rb") as status:
            line = next(line for line in status if line.startswith(b"VmSize:"))
        size = int(line.split()[1]) * 1024
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        soft = size + extra if hard == resource.RLIM_INFINITY else min(size + extra, hard)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    except (ImportError, OSError, StopIteration, ValueError):
        pass  # no /proc: no limit beyond the CPU one


def _in_child(read: Any, path: str) -> Any:
    """``read(path)`` of an HDF5 file in the watched child, its CPU budget by file size."""
    try:
        budget = H5_CPU_SECONDS + os.path.getsize(path) / H5_BYTES_PER_CPU_SECOND
    except OSError:
        budget = H5_CPU_SECONDS  # the child's h5py says what is wrong with the path
    return in_child(read, path, budget)


def in_child(read: Any, argument: Any, cpu_seconds: float, memory: int = H5_CHILD_MEMORY,
             what: str = "HDF5 file", reader: str = "libhdf5") -> Any:
    """``read(argument)`` in a forked child, killed if it spins or dies.

    libhdf5 is C code that loops forever or crashes on some damaged files,
    and neither can be stopped from Python in the same process; unmarshalled
    bytecode of another Python version can crash ``dis`` the same way.  The
    child may use ``cpu_seconds`` of CPU and ``memory`` more bytes of address
    space; it sends back the JSON of what ``read`` returned, or its
    ModelFileError.  Without ``fork`` (Windows) the read happens in this process.
    """
    if not hasattr(os, "fork"):
        return read(argument)
    budget = cpu_seconds
    receive, send = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: always leaves through os._exit
        status = 0
        try:
            os.close(receive)
            faulthandler.disable()  # a libhdf5 crash is reported in one line, not dumped
            _limit_address_space(memory)
            try:
                reply: dict[str, Any] = {"value": read(argument)}
            except ModelFileError as exc:
                reply = {"error": str(exc)}
            except MemoryError:
                reply = {"error": "file too large to load"}
            except BaseException as exc:  # a bug: the parent raises it
                reply = {"bug": f"{type(exc).__name__}: {exc}"}
            with os.fdopen(send, "wb") as out:
                out.write(json.dumps(reply).encode("ascii"))
        except BaseException:
            status = 70
        os._exit(status)
    os.close(send)
    chunks: list[bytes] = []
    started = time.monotonic()
    killed = ""
    try:
        while True:
            ready, _, _ = select.select([receive], [], [], 0.05)
            if ready:
                chunk = os.read(receive, 1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
                continue
            cpu = _cpu_seconds(pid)
            if cpu is not None and cpu > budget:
                killed = f"after {budget:.1f} s of CPU time"
            elif time.monotonic() - started > H5_WALL_SECONDS:
                killed = f"after {H5_WALL_SECONDS:g} s"
            if killed:
                os.kill(pid, signal.SIGKILL)
                break
    finally:
        os.close(receive)
        _, status = os.waitpid(pid, 0)
    if killed:
        raise ModelFileError(f"cannot read {what}: {reader} was still reading it {killed} "
                             "(a damaged file?)")
    if os.WIFSIGNALED(status):
        name = signal.Signals(os.WTERMSIG(status)).name
        raise ModelFileError(f"cannot read {what}: {reader} crashed on it ({name})")
    try:
        reply = json.loads(b"".join(chunks))
    except ValueError:
        raise RuntimeError(f"the {what} reader process ended with status {status}") from None
    if "error" in reply:
        raise ModelFileError(reply["error"])
    if "bug" in reply:
        raise RuntimeError(f"reading the {what} failed: {reply['bug']}")
    return reply["value"]

