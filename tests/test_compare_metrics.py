"""The error figures of tflint compare, on arrays (no TensorFlow)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tflint.compare_metrics import SNR_CAP_DB, ErrorStats, rank_layers, to_layer_rows


def test_error_stats_over_samples() -> None:
    stats = ErrorStats()
    stats.add(np.array([1.0, -1.0]), np.array([1.1, -1.0]))
    stats.add(np.array([2.0, 0.0]), np.array([2.0, -0.3]))
    summary = stats.summary()
    assert summary["max_abs_error"] == pytest.approx(0.3)
    assert summary["mean_abs_error"] == pytest.approx(0.1)
    assert summary["rmse"] == pytest.approx(math.sqrt((0.01 + 0.09) / 4))
    assert summary["snr_db"] == pytest.approx(10 * math.log10(6 / 0.1))
    assert summary["range"] == 3.0 and summary["relative_error"] == pytest.approx(0.15)


def test_identical_outputs_have_the_capped_snr() -> None:
    stats = ErrorStats()
    stats.add(np.ones(3), np.ones(3))
    assert stats.summary()["snr_db"] == SNR_CAP_DB


def _row(tensor: str, relative: float, inputs: list[str], scale: float = 0.0,
         own: float | None = None, to_output: bool = False) -> dict:
    row = {"tensor": tensor, "relative_rmse": relative, "range": 1.0, "scale": scale,
           "input_tensors": inputs, "to_output": to_output}
    if own is not None:
        row["layer_wise"] = {"relative_rmse": own, "range": 1.0}
    return row


def test_an_op_is_ranked_by_what_keeping_it_float_removes() -> None:
    rows = to_layer_rows([
        _row("a", 0.05, [], scale=0.004, own=0.05),
        # Inherits a's error and adds little of its own.
        _row("b", 0.06, ["a"], scale=0.004, own=0.002),
        # Its own error is about its output rounding (0.004 / sqrt(12)), which stays.
        _row("c", 0.061, ["b"], scale=0.004, own=0.001),
        _row("out", 0.07, ["c"], own=0.02, to_output=True),
    ])
    assert rows[1]["added_rmse"] == pytest.approx(math.sqrt(0.06 ** 2 - 0.05 ** 2))
    assert rows[2]["removable_rmse"] == 0.0
    assert rows[3]["removable_rmse"] == pytest.approx(0.02)  # its output leaves the model
    assert [row["tensor"] for row in rank_layers(rows)] == ["a", "out", "b", "c"]
    assert [row["rank"] for row in rows] == [1, 3, 4, 2]
