"""``tflint compare``: a Keras model against its ``.tflite``, measured.

Everything heavy runs in child processes (:mod:`tflint.isolation`):
the conversion and the error measurement (:func:`tflint.compare_child.analyse`),
then one process per engine and thread count for latency and peak memory, so
that one's memory is not counted in another's.  Where the ops run comes from
tflint's own lint of the ``.tflite`` (its delegation analysis, per target).

Nothing is written until everything has run: a bad input leaves no report
and no model behind.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tflint.isolation import Outcome, run_isolated

QUANTIZE_MODES = ("none", "dynamic", "float16", "int8", "int16x8")
CALIBRATED_MODES = ("int8", "int16x8")
#: Quantizations whose ops can be kept in float one by one (the MLIR quantizer's deny list).
KEEP_FLOAT_MODES = ("int8",)
KERAS_EXTENSIONS = (".keras", ".h5", ".hdf5")
DEFAULT_TIMEOUT = 300.0
INSTALL_HINT = 'pip install "tflint[convert,runtime]"'


class CompareError(Exception):
    """A usage or input problem: one line, naming the file."""


@dataclass
class CompareOptions:
    quantize: str | None = None
    representative_data: str | None = None
    batch_size: int | None = 1
    inputs: str | None = None
    seed: int = 0
    samples: int = 16
    runs: int = 30
    #: Seconds of timing per configuration at most (after at least 3 runs).
    budget: float = 3.0
    candidates: int = 3
    #: Worst ops (by their own error) re-quantized in float to rank them by output effect.
    screen: int = 6
    targets: list[str] = field(default_factory=lambda: ["xnnpack"])
    keep_float: list[str] = field(default_factory=list)
    timeout: float = DEFAULT_TIMEOUT
    #: Run the timing children (off for --compare-with, which needs only the errors).
    timing: bool = True


def missing_extras() -> str | None:
    for module, extra in (("tensorflow", "convert"), ("keras", "convert"),
                          ("ai_edge_litert", "runtime")):
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            return f"compare needs TensorFlow, Keras 3 and LiteRT ({module} is not installed, " \
                   f"extra '{extra}'): {INSTALL_HINT}"
    return None


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else \
        os.cpu_count() or 1


def check_inputs(model: str, tflite: str | None, options: CompareOptions) -> None:
    """Every named file exists and has the right kind; raises CompareError."""
    if not Path(model).is_file():
        raise CompareError(f"{model}: no such file")
    if Path(model).suffix.lower() not in KERAS_EXTENSIONS:
        raise CompareError(f"{model}: not a Keras model file (.keras, .h5)")
    if tflite is not None:
        if not Path(tflite).is_file():
            raise CompareError(f"{tflite}: no such file")
        if Path(tflite).suffix.lower() != ".tflite":
            raise CompareError(f"{tflite}: not a .tflite file")
    for path in (options.inputs, options.representative_data):
        if path is not None and not Path(path).is_file():
            raise CompareError(f"{path}: no such file")
    if options.representative_data and options.quantize not in CALIBRATED_MODES:
        raise CompareError("--representative-data is for --quantize int8 or int16x8")
    if options.keep_float and options.quantize not in KEEP_FLOAT_MODES:
        raise CompareError("--keep-float needs --quantize int8")
    if options.quantize is not None and options.quantize not in QUANTIZE_MODES:
        raise CompareError(f"unknown quantization {options.quantize!r}")
    missing = missing_extras()
    if missing:
        raise CompareError(missing)
    if options.inputs is not None:
        check_inputs_file(model, options)


def check_inputs_file(model: str, options: CompareOptions) -> None:
    """The ``--inputs`` arrays against the Keras model's inputs, read from its config
    (no TensorFlow): a mismatch is caught before any child process starts."""
    from tflint import loaders
    from tflint.compare_child import InputsError, read_inputs
    from tflint.errors import ModelFileError

    assert options.inputs is not None
    try:
        graph = loaders.load(model)
    except ModelFileError as exc:
        raise CompareError(f"{model}: {exc}") from None
    shapes = [t.shape for t in graph.inputs]
    if not graph.inputs or any(shape is None or None in shape[1:] for shape in shapes):
        return  # the child checks what the config leaves open
    batch = options.batch_size or 1
    specs = [{"name": t.name, "dtype": t.dtype or "float32",
              "shape": [batch if t.shape[0] is None else t.shape[0], *t.shape[1:]]}
             for t in graph.inputs if t.shape is not None]
    try:
        read_inputs(options.inputs, specs)
    except InputsError as exc:
        raise CompareError(f"{options.inputs}: {exc}") from None


def security_refusal(model: str) -> str | None:
    """Why loading the Keras model would be unsafe (it names code to import or run)."""
    from tflint.config import Config
    from tflint.engine import lint
    from tflint.gate import concerns, refusal

    result = lint(model, Config(select=["security"]))
    file = result.files[0]
    if file.error is not None:
        raise CompareError(f"{model}: {file.error}")
    if file.analyses is None:
        return None
    return refusal(concerns(file.analyses.security()), "compare")


def quantization_of(tflite: str) -> str:
    """How a ``.tflite`` was quantized, read from its tensors."""
    from tflint import loaders
    from tflint.errors import ModelFileError

    try:
        graph = loaders.load(tflite)
    except ModelFileError as exc:
        raise CompareError(f"{tflite}: {exc}") from None
    activations = {t.dtype for node in graph.nodes() for t in node.outputs
                   if not t.is_constant and t.quantization is not None
                   and t.quantization.scale}
    if "int16" in activations:
        return "int16x8"
    if "int8" in activations or "uint8" in activations:
        return "int8"
    constants = {t.dtype for node in graph.nodes() for t in node.inputs
                 if t is not None and t.is_constant}
    if "float16" in constants:
        return "float16"
    if "int8" in constants:
        return "dynamic"
    return "none"


def _run(function: str, *args: Any, timeout: float, what: str) -> Any:
    outcome: Outcome = run_isolated(f"tflint.compare_child:{function}", *args,
                                    timeout=timeout, what=what)
    if not outcome.ok:
        raise _child_error(outcome)
    return outcome.value


def _child_error(outcome: Outcome) -> CompareError:
    error = outcome.error or "failed"
    return CompareError(error)


def run_compare(model: str, tflite: str | None, options: CompareOptions,
                work: str) -> dict[str, Any]:
    """Convert when needed, measure both models; the report's data.  Writes only in ``work``."""
    check_inputs(model, tflite, options)
    refused = security_refusal(model)
    if refused:
        raise CompareError(f"{model}: {refused}")
    mode = options.quantize
    if mode is None:
        mode = quantization_of(tflite) if tflite is not None else "none"
    child_options = {**asdict(options), "quantize": mode}
    outcome = run_isolated("tflint.compare_child:analyse", model, tflite, work, child_options,
                           timeout=options.timeout, what="compare")
    if not outcome.ok:
        raise _analysis_error(outcome, model, options)
    data: dict[str, Any] = dict(outcome.value)
    if not (options.timing and options.runs > 0):
        data.pop("keras_timing", None)
    data.update(model=model, tflite_given=tflite, quantize=mode, seed=options.seed,
                batch_size=options.batch_size, cores=cores(), inputs_file=options.inputs)
    data["placement"] = placement(data["tflite"], options.targets)
    if options.timing and options.runs > 0:
        data["timing"] = timing(model, data["tflite"], work, options,
                                data.pop("keras_timing", None))
    data["candidates"] = [candidate_costs(c, options) for c in data["candidates"]]
    if options.timing and options.runs > 0 and data["candidates"]:
        candidate_latency(data, options)
    return data


def _analysis_error(outcome: Outcome, model: str, options: CompareOptions) -> CompareError:
    error = outcome.error or "failed"
    message = error.split(": ", 2)[-1] if ": " in error else error
    if "InputsError" in error and options.inputs:
        return CompareError(f"{options.inputs}: {message}")
    if "representative data" in error and options.representative_data:
        return CompareError(f"{options.representative_data}: {message}")
    return CompareError(f"{model}: {error}")


def placement(tflite: str, targets: list[str]) -> dict[str, Any]:
    """Per target: ops, ops on the CPU, partitions, from tflint's delegation analysis."""
    from tflint.config import Config
    from tflint.engine import lint

    result = lint(tflite, Config(select=["TFL110"], targets=list(targets)))
    file = result.files[0]
    if file.error is not None or file.analyses is None or file.graph is None:
        raise CompareError(f"{tflite}: {file.error or 'cannot be read'}")
    graph = file.graph
    blocks = {}
    for target in targets:
        delegation = file.analyses.delegation(target)
        if delegation is None:
            continue
        cpu = [graph.node(n).op_type for n in delegation.cpu_reasons]
        blocks[target] = {"ops": delegation.ops, "delegated": delegation.delegated,
                          "cpu_ops": len(cpu), "cpu_op_types": _histogram(cpu),
                          "partitions": delegation.partition_count,
                          "summary": delegation.summary(graph),
                          "refused": delegation.refused}
    dynamic = [{"name": t.name, "shape": list(t.shape or ())}
               for t in graph.inputs if t.is_dynamic]
    hybrid = sum(1 for node in graph.nodes() if _is_hybrid(node))
    return {"targets": blocks, "dynamic_inputs": dynamic, "hybrid_ops": hybrid}


def _is_hybrid(node: Any) -> bool:
    inputs = [t for t in node.inputs if t is not None]
    return (any(t.is_constant and t.dtype == "int8" for t in inputs)
            and any(not t.is_constant and t.dtype == "float32" for t in inputs)
            and node.op_type not in ("DEQUANTIZE",))


def _histogram(names: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def timing(model: str, tflite: str, work: str, options: CompareOptions,
           keras_at_all_cores: dict[str, Any] | None = None) -> dict[str, Any]:
    """Median latency and peak memory, per engine and thread count, each in a process of its
    own (Keras at all cores was measured by the analysis, before it converted)."""
    inputs = str(Path(work) / "inputs.pickle")
    rows: dict[str, Any] = {}
    for threads in sorted({1, cores()}):
        if threads == cores() and keras_at_all_cores is not None:
            rows[f"keras/{threads}"] = keras_at_all_cores
        else:
            rows[f"keras/{threads}"] = _run(
                "time_keras", model, options.batch_size, inputs, threads, options.runs,
                options.budget, timeout=options.timeout, what="Keras run")
        rows[f"tflite/{threads}"] = _run(
            "time_tflite", tflite, inputs, threads, options.runs, options.budget,
            timeout=options.timeout, what="LiteRT run")
    return rows


def candidate_costs(candidate: dict[str, Any], options: CompareOptions) -> dict[str, Any]:
    """What keeping one op float costs in placement, on every selected target."""
    candidate["placement"] = placement(candidate["path"], options.targets)["targets"]
    return candidate


def candidate_latency(data: dict[str, Any], options: CompareOptions) -> None:
    """XNNPACK latency at 1 thread of the quantized model and each candidate, side by side."""
    from tflint.fixer.measure import measure

    paths = [data["tflite"], *[c["path"] for c in data["candidates"]]]
    outcome = measure(paths, runs=options.runs, threads=1, timeout=options.timeout)
    if not outcome.ok:
        data["candidate_latency_error"] = outcome.error
        return
    base, *rest = outcome.value
    data["quantized_latency_ms"] = base.get("latency_ms")
    for candidate, measured in zip(data["candidates"], rest, strict=True):
        candidate["latency_ms"] = measured.get("latency_ms")


def save_model(source: str, output: Path) -> None:
    """Copy the compared ``.tflite`` to ``output``, whole or not at all."""
    folder = output.parent if str(output.parent) else Path(".")
    handle, name = tempfile.mkstemp(dir=folder, prefix=f".{output.name}.", suffix=".tmp")
    os.close(handle)
    try:
        shutil.copyfile(source, name)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(name, 0o666 & ~umask)
        os.replace(name, output)
    finally:
        Path(name).unlink(missing_ok=True)
