"""The ``--compare-with`` analysis: a ``.tflite`` measured against its Keras model.

Computed by the engine only when ``--compare-with MODEL.keras`` is given and
a rule asks (TFL330, TFL331): it runs ``tflint compare``'s measurement (child
processes, no timing) with the quantization read from the ``.tflite``, and
keeps what the rules report: each output's error against Keras, the ops
ranked by the quantization error they add, and for the worst ones what
keeping them in float buys and costs.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from typing import Any

from tflint.errors import ModelFileError
from tflint.graph import ModelGraph, Node

#: Layers re-quantized in float for the findings.
CANDIDATES = 3


@dataclass
class QuantizationError:
    """What ``tflint compare`` measured for one ``.tflite``."""

    keras_path: str
    quantize: str
    #: Per output: ``output``, ``max_abs_error``, ``mean_abs_error``, ``snr_db``...
    outputs: list[dict[str, Any]] = field(default_factory=list)
    #: Ops of the ``.tflite`` worst first: ``layers``, ``op``, ``op_index``, ``own_rmse``...
    layers: list[dict[str, Any]] = field(default_factory=list)
    #: The worst ops kept in float: ``tensor``, ``outputs``, ``placement`` per target.
    candidates: list[dict[str, Any]] = field(default_factory=list)
    #: Per target: ``cpu_ops`` and ``partitions`` of the ``.tflite`` itself.
    placement: dict[str, dict[str, Any]] = field(default_factory=dict)

    def node_of(self, graph: ModelGraph, row: dict[str, Any]) -> Node | None:
        """The op of ``graph`` a layer row was measured on (main subgraph, same index)."""
        for node in graph.nodes():
            if node.subgraph == 0 and node.location.op_index == row.get("op_index"):
                return node
        return None

    def candidate(self, tensor: str) -> dict[str, Any] | None:
        return next((c for c in self.candidates if c["tensor"] == tensor), None)

    def fix_text(self, candidate: dict[str, Any], target: str) -> str:
        """``keeping conv_b in float: SNR 18.3 -> 34.2 dB, CPU ops +1, partitions +2 (xnnpack)``."""
        before = self.outputs[0]["snr_db"] if self.outputs else 0.0
        after = candidate["outputs"][0]["snr_db"] if candidate["outputs"] else 0.0
        name = ",".join(candidate["layers"]) or candidate["tensor"]
        text = f"keeping {name} in float: output SNR {before:.1f} -> {after:.1f} dB"
        mine, base = candidate["placement"].get(target), self.placement.get(target)
        if mine and base:
            text += (f", ops on the CPU {mine['cpu_ops'] - base['cpu_ops']:+d}, partitions "
                     f"{mine['partitions'] - base['partitions']:+d} on {target}")
        return text

    def command(self, candidate: dict[str, Any]) -> str:
        layers = ",".join(candidate["layers"]) or "LAYER"
        return (f"tflint compare {self.keras_path} --quantize {self.quantize} --keep-float "
                f"{layers} --save OUT.tflite")


def measure_against(graph: ModelGraph, keras_path: str,
                    targets: tuple[str, ...]) -> QuantizationError:
    """Run the comparison; a model that cannot be compared is an error of the file."""
    from tflint.compare_command import (
        KEEP_FLOAT_MODES,
        CompareError,
        CompareOptions,
        quantization_of,
        run_compare,
    )

    try:
        mode = quantization_of(graph.path)
        options = CompareOptions(quantize=mode, targets=list(targets), timing=False,
                                 candidates=CANDIDATES if mode in KEEP_FLOAT_MODES else 0)
        with tempfile.TemporaryDirectory(prefix="tflint-compare-") as work:
            data = run_compare(keras_path, graph.path, options, work)
    except CompareError as exc:
        raise ModelFileError(f"--compare-with: {exc}") from None
    return QuantizationError(
        keras_path=keras_path, quantize=mode, outputs=data["outputs"], layers=data["layers"],
        candidates=data["candidates"], placement=data["placement"]["targets"])
