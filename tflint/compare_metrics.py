"""Error figures of ``tflint compare``: per output and per quantized op, and the ranking.

Plain numpy, no TensorFlow: the child processes accumulate these over the
evaluation samples, and the tests check them on arrays.

An op's error is measured three ways, as the TensorFlow quantization
debugger words them: *model-wise*, its output in the quantized model against
the same tensor in the float model (the error carried from every op before it
included); *layer-wise* or *own*, the quantized op against the float op fed
the same inputs (the debug model's ``NumericVerify`` pairs); and *added*,
what the model-wise error has over the worst input's (the estimate of the own
error when the debug model is not there).  The ranking uses the part of the
own error that keeping the op in float removes (an op downstream of a bad
one inherits its error, but keeping it in float does not remove that); the
worst few by that measure are then quantized again with the op kept in float,
and ordered by how much of the output error that removes (the error the op
sends to the outputs, measured).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

#: SNR reported when the outputs are identical.
SNR_CAP_DB = 200.0


@dataclass
class ErrorStats:
    """Running sums of ``measured - reference`` over samples."""

    count: int = 0
    squared_error: float = 0.0
    squared_signal: float = 0.0
    abs_error: float = 0.0
    max_abs_error: float = 0.0
    max_abs_reference: float = 0.0
    low: float = math.inf
    high: float = -math.inf

    def add(self, reference: Any, measured: Any) -> None:
        reference = np.asarray(reference, dtype=np.float64)
        error = np.asarray(measured, dtype=np.float64) - reference
        self.count += reference.size
        self.squared_error += float(np.sum(error * error))
        self.squared_signal += float(np.sum(reference * reference))
        self.abs_error += float(np.sum(np.abs(error)))
        if reference.size:
            self.max_abs_error = max(self.max_abs_error, float(np.max(np.abs(error))))
            self.max_abs_reference = max(self.max_abs_reference,
                                         float(np.max(np.abs(reference))))
            self.low = min(self.low, float(np.min(reference)))
            self.high = max(self.high, float(np.max(reference)))

    def summary(self) -> dict[str, float]:
        count = max(self.count, 1)
        rmse = math.sqrt(self.squared_error / count)
        value_range = self.high - self.low if self.count else 0.0
        return {
            "max_abs_error": self.max_abs_error,
            "mean_abs_error": self.abs_error / count,
            "rmse": rmse,
            "snr_db": snr_db(self.squared_signal, self.squared_error),
            "range": value_range,
            "relative_rmse": rmse / value_range if value_range > 0 else 0.0,
            "relative_error": (self.max_abs_error / self.max_abs_reference
                               if self.max_abs_reference > 0 else self.max_abs_error),
        }


def snr_db(signal: float, noise: float) -> float:
    """``10 log10(signal / noise)``, capped for identical outputs."""
    if noise <= 0:
        return SNR_CAP_DB
    if signal <= 0:
        return -SNR_CAP_DB
    return min(SNR_CAP_DB, 10 * math.log10(signal / noise))


def to_layer_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each op's own error, and the part of it keeping the op in float removes.

    *Added*: what the op's output error has over the worst of its inputs'
    (model-wise errors, added in quadrature as independent errors do).
    *Own*: the layer-wise error when the debug model measured it (the float
    op fed the same inputs), else the added error.  Kept in float, an op that
    feeds quantized ops still has its output rounded to the same scale: only
    what exceeds that rounding (``scale / sqrt(12)``) goes away; all of it
    goes for an op whose output leaves the model.
    """
    by_tensor = {row["tensor"]: row for row in rows}
    for row in rows:
        inherited = [by_tensor[name]["relative_rmse"] for name in row.get("input_tensors", [])
                     if name in by_tensor]
        row["inherited_rmse"] = max(inherited, default=0.0)
        row["added_rmse"] = math.sqrt(max(0.0, row["relative_rmse"] ** 2
                                          - row["inherited_rmse"] ** 2))
        own = row.get("layer_wise")
        value_range = (own or row)["range"]
        row["own_rmse"] = own["relative_rmse"] if own else row["added_rmse"]
        rounding = 0.0
        if row.get("scale") and value_range and not row.get("to_output"):
            rounding = row["scale"] / math.sqrt(12) / value_range
        row["rounding_rmse"] = rounding
        row["removable_rmse"] = math.sqrt(max(0.0, row["own_rmse"] ** 2 - rounding ** 2))
    return rows


def rank_layers(rows: list[dict[str, Any]], key: str = "removable_rmse") -> list[dict[str, Any]]:
    """The rows worst first, numbered from 1."""
    ranked = sorted(rows, key=lambda row: (-row[key], -row["relative_rmse"], row["tensor"]))
    for rank, row in enumerate(ranked, start=1):
        row["rank"] = rank
    return ranked


def output_rmse(outputs: list[dict[str, Any]]) -> float:
    """One figure for all outputs: the root of their mean squared errors summed."""
    return math.sqrt(sum(output["rmse"] ** 2 for output in outputs))


def rerank_by_output(rows: list[dict[str, Any]],
                     outputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ops measured kept in float (``kept_float``) first, by how much of the output
    error that removes (``output_gain``, a share of the output RMSE); then the others in
    their order, renumbered from 1."""
    base = output_rmse(outputs)
    measured = [row for row in rows if "kept_float" in row]
    for row in measured:
        after = output_rmse(row["kept_float"]["outputs"])
        row["output_gain"] = (base - after) / base if base > 0 else 0.0
    ranked = sorted(measured, key=lambda row: -row["output_gain"]) + [
        row for row in rows if "kept_float" not in row]
    for rank, row in enumerate(ranked, start=1):
        row["rank"] = rank
    return ranked
