"""Write the fixed model: build it from the rewritten config, copy the weights, save atomically.

Keras is imported here only (the ``convert`` extra).  The new model is built
from the rewritten config alone; the original config is never deserialized,
so a replaced ``Lambda`` or custom class never reaches Keras.  Weights are
copied layer by layer from the original file (:mod:`tflint.fixer.weights`).

The file is written to a temporary name in the output's folder, loaded back
with ``keras.saving.load_model(..., safe_mode=True)``, and only then renamed
into place: a failure at any step leaves no file behind.
"""

from __future__ import annotations

import contextlib
import copy
import importlib.metadata
import importlib.util
import io
import json
import logging
import os
import re
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tflint.fixer.apply import FixPlan
from tflint.fixer.weights import LayerKey, OriginalWeights, WeightsError, copy_tree
from tflint.graph import ModelGraph
from tflint.loaders.keras_config import build_keras_graph

INSTALL_HINT = 'pip install "tflint[convert]"'
OUTPUT_SUFFIXES = (".keras", ".h5")


class FixError(Exception):
    """The fixed model cannot be written; the message says why, in the user's terms."""


@dataclass
class Written:
    path: Path
    #: Layers whose weights were copied from the original file.
    copied: list[LayerKey] = field(default_factory=list)


def default_output(source: Path, container: str) -> Path:
    """Where ``--fix`` writes by default: next to the source, ``.fixed`` before its suffix,
    which stays when the output's differs, so two models differing only by their suffix
    never share an output.

    ``model.keras`` -> ``model.fixed.keras``, ``model.h5`` -> ``model.fixed.h5.keras``;
    a JSON config stays a JSON config: ``model.json`` -> ``model.fixed.json``.
    """
    suffix = ".json" if container == "json" else ".keras"
    kept = "" if source.suffix.lower() == suffix else source.suffix
    return source.with_name(f"{source.stem}.fixed{kept}{suffix}")


def converted_output(output: Path) -> Path:
    """The ``.tflite`` ``--convert`` writes for a fixed model: ``model.fixed.h5.tflite``."""
    return output.with_suffix(".tflite")


def keras_missing() -> str | None:
    """Why the fixed model cannot be written here, found without importing Keras."""
    try:
        found = importlib.util.find_spec("keras") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        return f"writing the fixed model needs Keras 3: {INSTALL_HINT}"
    try:
        version = importlib.metadata.version("keras")
    except importlib.metadata.PackageNotFoundError:
        return None  # importable but not installed as a distribution: the import will tell
    if not version.startswith("3."):
        return f"writing the fixed model needs Keras 3, found {version}"
    return None


def check_output(source: Path, output: Path, container: str, force: bool) -> None:
    """Refuse what would destroy data: the input itself, or an existing file without --force."""
    if output.resolve() == source.resolve() or (
            output.exists() and source.exists() and os.path.samefile(output, source)):
        raise FixError(f"{output} is the input model; choose another --fix-output")
    allowed = (".json",) if container == "json" else OUTPUT_SUFFIXES
    if output.suffix.lower() not in allowed:
        raise FixError(f"{output}: the fixed model must be a {' or '.join(allowed)} file")
    if output.is_dir():
        raise FixError(f"{output} is a directory")
    if output.exists() and not force:
        raise FixError(f"{output} already exists (pass --force to overwrite it)")


def buildable_graph(plan: FixPlan) -> ModelGraph:
    """The rewritten model's graph; refuses layers only their authors' code can build."""
    graph = build_keras_graph(plan.document, plan.path, plan.facts)
    for node in graph.nodes():
        if node.origin == "custom":
            where = f" in model '{node.location.model}'" if node.location.model else ""
            raise FixError(f"layer '{node.layer_name}' ({node.op_type}){where} is a custom class: "
                           "Keras cannot build it without its code, which tflint never imports; "
                           "replace it (--replace-with LAYER=CHOICE) or fix it in your code")
    return graph


def write_fixed(plan: FixPlan, output: Path, *, trust_model: bool = False,
                force: bool = False) -> Written:
    """Write ``plan.document`` with the original's weights to ``output``; nothing on failure."""
    check_output(Path(plan.path), output, plan.container, force)
    if plan.container == "json":
        _atomic_write(output, lambda tmp: tmp.write_text(
            json.dumps(plan.document, indent=2) + "\n", encoding="utf-8"))
        return Written(output)
    graph = buildable_graph(plan)
    has_lambda = any(node.origin == "lambda" for node in graph.nodes())
    if has_lambda and not trust_model:
        names = sorted({n.layer_name or n.name for n in graph.nodes() if n.origin == "lambda"})
        raise FixError(f"Lambda layer(s) {', '.join(names)} remain: loading them runs code "
                       "stored in the file (pass --trust-model if you wrote it)")
    safe_mode = not has_lambda
    with OriginalWeights(plan.path, plan.container, plan.original) as original:
        if not original.present:
            raise FixError("the file holds no weights to carry over")
        keras = import_keras()
        model = build_model(keras, plan, safe_mode)
        try:
            copied = _carry_weights(keras, model, original, plan)
        except WeightsError as exc:
            raise FixError(str(exc)) from None

    def save(tmp: Path) -> None:
        with _quiet():
            model.save(str(tmp))
            keras.saving.load_model(str(tmp), compile=False, safe_mode=safe_mode)

    _atomic_write(output, save)
    return Written(output, copied)


def import_keras() -> Any:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        with _quiet(), _native_stderr_silenced():
            import keras
    except ImportError:
        raise FixError(f"writing the fixed model needs Keras 3: {INSTALL_HINT}") from None
    if not keras.__version__.startswith("3."):
        raise FixError(f"writing the fixed model needs Keras 3, found {keras.__version__}")
    return keras


def build_model(keras: Any, plan: FixPlan, safe_mode: bool) -> Any:
    """A Keras 3 model from the rewritten config, in whichever dialect it is written."""
    config = copy.deepcopy(plan.document)
    try:
        with _quiet():
            if "module" in config:  # a Keras 3 config as .keras archives and to_json() write it
                return keras.saving.deserialize_keras_object(config, safe_mode=safe_mode)
            return _build_legacy(config, safe_mode)
    except Exception as exc:
        raise FixError(f"Keras cannot build the rewritten model: {first_line(exc)}") from None


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def first_line(exc: BaseException, limit: int = 300) -> str:
    """An exception's message as one short line (Keras appends whole configs to some)."""
    lines = [line.strip() for line in _ANSI.sub("", str(exc)).splitlines() if line.strip()]
    line = lines[0] if lines else type(exc).__name__
    if line.startswith("Exception encountered when calling") and len(lines) > 1:
        line = f"{line.rstrip('.')}: {lines[1]}"  # Keras puts the actual error second
    line = line.split(" Full object config:")[0]
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _build_legacy(config: dict[str, Any], safe_mode: bool) -> Any:
    # Keras 3 reads tf.keras and Keras 2 configs only inside its legacy HDF5
    # loader (keras.src.legacy.saving.legacy_h5_format.load_model_from_hdf5);
    # these are the calls it makes, minus the weights, which are copied by name.
    from keras.src.legacy.saving import saving_options, saving_utils
    from keras.src.saving import serialization_lib

    with saving_options.keras_option_scope(use_legacy_config=True), \
            serialization_lib.SafeModeScope(safe_mode):
        return saving_utils.model_from_config(config)


def _carry_weights(keras: Any, model: Any, original: OriginalWeights,
                   plan: FixPlan) -> list[LayerKey]:
    if original.legacy is not None:
        from tflint.fixer.weights import assign_legacy

        return assign_legacy(original, model, plan.fresh)
    import h5py

    with tempfile.TemporaryDirectory(prefix="tflint-weights-") as folder:
        path = Path(folder) / "new.weights.h5"
        with _quiet():
            model.save_weights(str(path))
        with h5py.File(path, "r+") as target:
            copied = copy_tree(original, target, plan.document, plan.fresh)
        with _quiet():
            model.load_weights(str(path))
    return copied


def _atomic_write(output: Path, write: Any) -> None:
    """Write through a temporary file in the same folder, then rename it into place."""
    folder = output.parent if str(output.parent) else Path(".")
    try:
        handle, name = tempfile.mkstemp(dir=folder, prefix=f".{output.name}.",
                                        suffix=output.suffix)
    except OSError as exc:
        raise FixError(f"{output}: cannot write: {exc.strerror or exc}") from None
    os.close(handle)
    tmp = Path(name)
    try:
        write(tmp)
        publish(tmp, output)
    except FixError:
        tmp.unlink(missing_ok=True)
        raise
    except Exception as exc:
        tmp.unlink(missing_ok=True)
        raise FixError(f"{output}: cannot write the fixed model: {first_line(exc)}") from None


@contextlib.contextmanager
def _native_stderr_silenced() -> Any:
    """TensorFlow's C++ side logs to file descriptor 2 on import, past any Python redirect."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def publish(tmp: Path, output: Path) -> None:
    """Rename a finished temporary file into place with the permissions of a new file."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, output)


@contextlib.contextmanager
def _quiet() -> Any:
    """Keras prints and warns while building and saving; none of it is for the user."""
    absl = logging.getLogger("absl")  # Keras warns through absl about legacy .h5 saves
    level = absl.level
    absl.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        absl.setLevel(level)
