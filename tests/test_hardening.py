"""Hostile and broken files: one ``PATH: error: ...`` line each, and the rest of the run goes on.

The loader tests check the loaders' exceptions one case at a time; here the
cases go through the command line next to a good model, as a CI job would
meet them, and the costs that matter against a hostile file are measured:
time, CPU and peak memory of the tflint process (and of the child it forks
to read HDF5).  Only what the loader tests do not already cover is here.
"""

from __future__ import annotations

import io
import json
import os
import signal
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from conftest import ROOT, fixture, run_tflint

import tflint
from tflint.errors import ModelFileError
from tflint.loaders import keras_files

sys.path.insert(0, str(ROOT))
from fuzz.mutators import Site, flatbuffer_sites

GOOD = fixture("clean/mobile_cnn.tflite")
MIB = 1 << 20


def lint_beside_good(paths: list[Path], cwd: Path) -> dict[str, Any]:
    """Lint ``paths`` and a good model in one run; measure the run from a fresh parent."""
    script = (
        "import json, resource, subprocess, sys, time\n"
        "start = time.monotonic()\n"
        "proc = subprocess.run([sys.executable, '-m', 'tflint', '--isolated', *sys.argv[1:]],"
        " capture_output=True, text=True)\n"
        "usage = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(json.dumps({'code': proc.returncode, 'out': proc.stdout, 'err': proc.stderr,"
        " 'wall': time.monotonic() - start, 'cpu': usage.ru_utime + usage.ru_stime,"
        " 'rss_mib': usage.ru_maxrss / 1024}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, *map(str, paths), str(GOOD)],
                          capture_output=True, text=True, cwd=cwd, timeout=300, check=True)
    run = json.loads(proc.stdout)
    assert run["code"] == 2, run["out"] + run["err"]
    assert "Traceback" not in run["err"], run["err"]
    lines = run["out"].splitlines()
    for path in paths:
        mine = [line for line in lines if line.startswith(f"{path}:")]
        assert len(mine) == 1 and mine[0].startswith(f"{path}: error: "), mine
    assert any(line.startswith(f"{GOOD}: 6 ops, 6 on XNNPACK") for line in lines), lines
    run["errors"] = {Path(line.split(": error: ")[0]).name: line.split(": error: ", 1)[1]
                     for line in lines if ": error: " in line}
    return run


# -- .tflite ---------------------------------------------------------------------------------


def _site(data: bytes, kind: str, field: str) -> Site:
    return next(s for s in flatbuffer_sites(data) if s.kind == kind and s.field == field)


def _patched(data: bytes, site: Site, fmt: str, value: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, site.pos, value)
    return bytes(out)


def test_damaged_tflite_files(tmp_path: Path) -> None:
    data = GOOD.read_bytes()
    operator = next(s for s in flatbuffer_sites(data) if s.kind == "scalar"
                    and s.field == "Operator.opcode_index"
                    and struct.unpack_from("<I", data, s.pos)[0] > 0)
    element = next(s for s in flatbuffer_sites(data)
                   if s.kind == "uoffset" and s.field.startswith("SubGraph.operators["))
    cases = {
        "vector_length.tflite": _patched(data, _site(data, "length", "SubGraph.operators"),
                                         "<I", 0x7FFFFFFF),
        "offset_outside.tflite": _patched(data, _site(data, "uoffset", "Model.buffers"),
                                          "<I", 4 * len(data)),
        # An operator whose offset points at itself: its vtable offset reads as 0.
        "self_reference.tflite": _patched(data, element, "<I", 0),
        "tensor_index.tflite": _patched(data, _site(data, "element", "Operator.inputs[0]"),
                                        "<i", 10**6),
        "negative_index.tflite": _patched(data, _site(data, "element", "Operator.outputs[0]"),
                                          "<i", -5),
        "opcode_index.tflite": _patched(data, operator, "<I", 200),
        "vtable_size.tflite": _patched(data, _site(data, "vtable_size", "Model"), "<H", 0xFFFF),
    }
    paths = []
    for name, content in cases.items():
        paths.append(tmp_path / name)
        paths[-1].write_bytes(content)
    run = lint_beside_good(paths, tmp_path)
    errors = run["errors"]
    assert "claims 2147483647 elements" in errors["vector_length.tflite"]
    assert "points outside the file" in errors["offset_outside.tflite"]
    assert "vtable" in errors["self_reference.tflite"]
    assert "tensor 1000000" in errors["tensor_index.tflite"]
    assert "tensor -5" in errors["negative_index.tflite"]
    assert "opcode 200" in errors["opcode_index.tflite"]
    assert "invalid size 65535" in errors["vtable_size.tflite"]
    assert run["cpu"] < 10


# -- Keras configs ---------------------------------------------------------------------------


def _nested_sequential(depth: int) -> dict[str, Any]:
    """``depth`` Sequential models, each the only layer of the one around it."""
    model: dict[str, Any] = {"class_name": "Sequential", "config": {"name": "m0", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 4], "name": "x"}},
        {"class_name": "Dense", "config": {"name": "dense", "units": 2}},
    ]}}
    for level in range(1, depth):
        model = {"class_name": "Sequential", "config": {"name": f"m{level}", "layers": [
            {"class_name": "InputLayer",
             "config": {"batch_input_shape": [None, 4], "name": f"x{level}"}},
            model,
        ]}}
    return model


def test_models_nested_to_the_depth_limit(tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text(json.dumps(_nested_sequential(60)))
    assert keras_files.json_depth(deep.read_text()) <= keras_files.MAX_JSON_DEPTH
    run = run_tflint("--isolated", "--format", "json", deep, cwd=tmp_path)
    [file] = run.json()["files"]
    assert file["error"] is None and file["model"]["nodes"] == 1

    deeper = tmp_path / "deeper.json"
    deeper.write_text(json.dumps(_nested_sequential(70)))
    errors = lint_beside_good([deeper], tmp_path)["errors"]
    assert "nested too deeply" in errors["deeper.json"]


def test_keras_config_limits(tmp_path: Path) -> None:
    nested = tmp_path / "nested.json"
    nested.write_text('{"class_name": "Functional", "config": ' + "[" * 100_000 + "]" * 100_000
                      + "}")
    # Sparse: 65 MiB to the file system, nothing on disk; refused on its size alone.
    large = tmp_path / "large.json"
    with large.open("wb") as handle:
        handle.write(b'{"class_name": "Functional", "config": {}}')
        handle.truncate(65 * MIB)
    config = json.loads(fixture("keras3/functional_multi_io.json").read_text())
    layer = next(e for e in config["config"]["layers"] if e["name"] == "label")
    layer["inbound_nodes"][0]["args"][0]["config"]["keras_history"][2] = 10**19
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(config))
    run = lint_beside_good([nested, large, outputs], tmp_path)
    assert "nested too deeply (100001 levels" in run["errors"]["nested.json"]
    assert "JSON file is too large (65 MiB" in run["errors"]["large.json"]
    assert "at most 1024 outputs" in run["errors"]["outputs.json"]
    assert run["cpu"] < 10 and run["rss_mib"] < 200


# -- .keras archives -------------------------------------------------------------------------

CONFIG = fixture("keras3/functional_multi_io.json").read_bytes()


def _deflated_zeros(size: int) -> tuple[bytes, int]:
    """A raw deflate stream of ``size`` zero bytes, made in 1 MiB steps, and its CRC."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = bytes(MIB)
    crc, parts = 0, []
    for _ in range(size // MIB):
        parts.append(packer.compress(chunk))
        crc = zlib.crc32(chunk, crc)
    parts.append(packer.flush())
    return b"".join(parts), crc


def _archive(entries: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0)), data)
    return buffer.getvalue()


def _with_stream(data: bytes, name: str, stream: bytes, crc: int, declared: int) -> bytes:
    """Put a raw deflate stream in place of entry ``name`` (written empty), sizes as declared."""
    out = bytearray(data)
    local = out.index(b"PK\x03\x04")
    while out[local + 30:local + 30 + struct.unpack_from("<H", out, local + 26)[0]] != (
            name.encode()):
        local = out.index(b"PK\x03\x04", local + 4)
    old = struct.unpack_from("<I", out, local + 18)[0]
    start = local + 30 + len(name) + struct.unpack_from("<H", out, local + 28)[0]
    out[start:start + old] = stream
    struct.pack_into("<III", out, local + 14, crc, len(stream), declared)
    shift = len(stream) - old
    central = out.index(b"PK\x01\x02", start + len(stream))
    while central >= 0:
        entry = out[central + 46:central + 46 + struct.unpack_from("<H", out, central + 28)[0]]
        if entry == name.encode():
            struct.pack_into("<III", out, central + 16, crc, len(stream), declared)
        elif struct.unpack_from("<I", out, central + 42)[0] > local:
            struct.pack_into("<I", out, central + 42,
                             struct.unpack_from("<I", out, central + 42)[0] + shift)
        central = out.find(b"PK\x01\x02", central + 4)
    end = out.rindex(b"PK\x05\x06")
    struct.pack_into("<I", out, end + 16, struct.unpack_from("<I", out, end + 16)[0] + shift)
    return bytes(out)


def test_keras_zip_bombs_refused_before_reading(tmp_path: Path) -> None:
    stream, crc = _deflated_zeros(1024 * MIB)
    assert len(stream) < 2 * MIB
    # A real 1 GiB bomb as config.json, declared honestly.
    honest = tmp_path / "honest_bomb.keras"
    honest.write_bytes(_with_stream(_archive([("config.json", b""), ("metadata.json", b"{}")]),
                                    "config.json", stream, crc, 1024 * MIB))
    # The same stream declared as 100 bytes: zipfile must stop at the declared size.
    liar = tmp_path / "lying_sizes.keras"
    liar.write_bytes(_with_stream(_archive([("config.json", b""), ("metadata.json", b"{}")]),
                                  "config.json", stream, crc, 100))
    # A bomb in an asset nobody reads: the directory is checked before any entry is.
    asset = tmp_path / "asset_bomb.keras"
    asset.write_bytes(_with_stream(_archive([("config.json", CONFIG), ("assets/big.bin", b"")]),
                                   "assets/big.bin", stream, crc, 1024 * MIB))
    run = lint_beside_good([honest, liar, asset], tmp_path)
    errors = run["errors"]
    assert "zip bomb" in errors["honest_bomb.keras"]
    assert "not a valid zip archive" in errors["lying_sizes.keras"]
    assert "'assets/big.bin' expands" in errors["asset_bomb.keras"]
    assert run["rss_mib"] < 150 and run["cpu"] < 10


def test_keras_zip_names_and_entries(tmp_path: Path) -> None:
    cases = {
        "parent.keras": [("config.json", CONFIG), ("../../etc/cron.d/x", b"x")],
        "absolute.keras": [("config.json", CONFIG), ("/etc/passwd", b"x")],
        "windows.keras": [("config.json", CONFIG), ("C:/Windows/evil.dll", b"x")],
        "no_config.keras": [("metadata.json", b"{}"), ("model.weights.h5", b"x")],
        "config_elsewhere.keras": [("sub/config.json", CONFIG)],
    }
    paths = []
    for name, entries in cases.items():
        paths.append(tmp_path / name)
        paths[-1].write_bytes(_archive(entries))
    # An unsafe entry name is a security finding (TFL608) and the entry is never read.
    unsafe = {"parent.keras": "parent directory reference", "absolute.keras": "absolute path",
              "windows.keras": "absolute path"}
    for name, reason in unsafe.items():
        [file] = tflint.lint(tmp_path / name, tflint.Config(select=["TFL608"])).files
        assert file.error is None and [d.code for d in file.diagnostics] == ["TFL608"]
        assert reason in file.diagnostics[0].message
    errors = lint_beside_good([p for p in paths if p.name not in unsafe], tmp_path)["errors"]
    assert "no config.json" in errors["no_config.keras"]
    assert "no config.json" in errors["config_elsewhere.keras"]


# -- HDF5 --------------------------------------------------------------------------------------


def _h5_with(tmp_path: Path, name: str, attribute: str, value: Any) -> Path:
    """A copy of a real HDF5 model with one root attribute replaced (dense storage allows
    attributes over 64 KiB of any kind)."""
    path = tmp_path / name
    with h5py.File(fixture("malicious/plain.h5"), "r") as src, \
            h5py.File(path, "w", libver="latest") as dst:
        for key, item in src.attrs.items():
            if key != attribute:
                dst.attrs[key] = item
        for key in src:
            src.copy(src[key], dst, name=key)
        dst.attrs[attribute] = value
    return path


def test_hdf5_attributes_size_limited(tmp_path: Path) -> None:
    text = "[" + "0," * (65 * MIB // 2) + "0]"
    fixed = _h5_with(tmp_path, "fixed.h5", "model_config", np.bytes_(text.encode()))
    variable = _h5_with(tmp_path, "variable.h5", "model_config", text)
    metadata = _h5_with(tmp_path, "metadata.h5", "keras_version", "3." + "1" * (2 * MIB))
    training = _h5_with(tmp_path, "training.h5", "training_config", text)
    run = lint_beside_good([fixed, variable, metadata, training], tmp_path)
    errors = run["errors"]
    assert "attribute 'model_config' is too large (65 MiB, limit 64 MiB)" in errors["fixed.h5"]
    # Read (HDF5 tells a variable-length size only then) in a child whose memory is capped.
    assert errors["variable.h5"].startswith("cannot read HDF5 file")
    assert "attribute 'keras_version' is too large" in errors["metadata.h5"]
    assert errors["training.h5"].startswith("cannot read HDF5 file")
    assert run["rss_mib"] < 300, run["rss_mib"]


def test_hdf5_that_sends_libhdf5_into_a_loop(tmp_path: Path) -> None:
    """Zero bytes inside the config's global heap: h5py alone never returns."""
    data = fixture("malicious/plain.h5").read_bytes()
    at = data.index(b'"class_name"', data.index(b'{"module"'))
    damaged = tmp_path / "loop.h5"
    damaged.write_bytes(data[:at] + bytes(4096) + data[at:])
    run = lint_beside_good([damaged], tmp_path)
    assert run["errors"]["loop.h5"].startswith("cannot read HDF5 file")
    assert run["cpu"] < 10


def _spin(path: str) -> None:
    while True:
        pass


def _segfault(path: str) -> None:
    os.kill(os.getpid(), signal.SIGSEGV)


def _answer(path: str) -> list[str]:
    return [path, "\udcff"]


def test_hdf5_reader_child_is_killed_or_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keras_files, "H5_CPU_SECONDS", 0.3)
    with pytest.raises(ModelFileError, match=r"still reading it after 0\.3 s of CPU time"):
        keras_files._in_child(_spin, str(GOOD))
    with pytest.raises(ModelFileError, match=r"libhdf5 crashed on it \(SIGSEGV\)"):
        keras_files._in_child(_segfault, str(GOOD))
    assert keras_files._in_child(_answer, str(GOOD)) == [str(GOOD), "\udcff"]


def test_a_zip_entry_with_an_empty_name_is_read_past(tmp_path: Path) -> None:
    """Found by fuzzing: ZipInfo.is_dir() indexes the last character of the name."""
    import zipfile

    path = tmp_path / "empty_name.keras"
    with zipfile.ZipFile(fixture("clean/mobile_cnn.keras")) as source, \
            zipfile.ZipFile(path, "w") as target:
        for info in source.infolist():
            target.writestr(info, source.read(info))
        target.writestr(zipfile.ZipInfo(""), b"stray bytes")
    [file] = tflint.lint(path).files
    assert file.error is None and not file.internal_errors
