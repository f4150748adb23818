"""Model-level facts shown in every report: what the file holds, not what is wrong."""

from __future__ import annotations

from typing import Any

from tflint.graph import ModelGraph, Tensor
from tflint.wording import plural


def _tensor_dict(tensor: Tensor) -> dict[str, Any]:
    quantization = tensor.quantization
    return {
        "name": tensor.name,
        "dtype": tensor.dtype,
        "shape": None if tensor.shape is None else list(tensor.shape),
        "quantization": None if quantization is None else {
            "scale": list(quantization.scale[:8]),
            "zero_point": list(quantization.zero_point[:8]),
            "per_channel": quantization.per_channel,
        },
    }


def model_summary(graph: ModelGraph) -> dict[str, Any]:
    """Facts for the json ``model`` block and the text summary line."""
    summary: dict[str, Any] = {
        "nodes": len(graph),
        "op_histogram": graph.op_histogram(),
        "inputs": [_tensor_dict(t) for t in graph.inputs],
        "outputs": [_tensor_dict(t) for t in graph.outputs],
    }
    if graph.kind == "tflite":
        facts = graph.facts.get("tflite", {})
        summary.update(
            subgraphs=facts.get("subgraphs", []),
            parameters=facts.get("parameters"),
            weight_bytes_by_dtype=facts.get("weight_bytes_by_dtype", {}),
            metadata=facts.get("metadata", []),
            description=facts.get("description"),
            signatures=[
                {
                    "key": s.key,
                    "subgraph": s.subgraph,
                    "inputs": {k: _tensor_dict(t) for k, t in s.inputs.items()},
                    "outputs": {k: _tensor_dict(t) for k, t in s.outputs.items()},
                }
                for s in graph.signatures
            ],
        )
    else:
        facts = graph.facts.get("keras", {})
        summary.update({k: facts.get(k) for k in ("dialect", "container", "keras_version",
                                                   "model_class", "dtype_policy", "has_weights")})
    return summary


def summary_line(kind: str, summary: dict[str, Any]) -> str:
    """One line such as ``tflite, 1 subgraph, 42 ops, 1.2M parameters``."""
    if kind == "tflite":
        subgraphs = len(summary.get("subgraphs") or []) or 1
        parameters = summary.get("parameters") or 0
        return (f"tflite, {subgraphs} subgraph{'s' if subgraphs != 1 else ''}, "
                f"{plural(summary['nodes'], 'op')}, {_count(parameters)} parameters")
    dialect = summary.get("dialect") or "keras"
    return (f"{dialect} {summary.get('model_class') or 'model'}, "
            f"{plural(summary['nodes'], 'layer call')}")



def _count(value: int) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= size:
            return f"{value / size:.1f}{unit}"
    return str(value)


def detail_lines(kind: str, summary: dict[str, Any]) -> list[str]:
    """Model facts for the text report: signatures, op histogram, weights, metadata."""
    lines = [
        "inputs: " + (", ".join(_describe(t) for t in summary["inputs"]) or "none"),
        "outputs: " + (", ".join(_describe(t) for t in summary["outputs"]) or "none"),
    ]
    histogram = summary.get("op_histogram") or {}
    lines.append(f"{'ops' if kind == 'tflite' else 'layers'}: "
                 + (", ".join(f"{op} x{n}" for op, n in histogram.items()) or "none"))
    if kind == "tflite":
        subgraphs = summary.get("subgraphs") or []
        if len(subgraphs) > 1:
            lines.append("subgraphs: " + ", ".join(
                f"{s.get('name') or s.get('index')} ({plural(s.get('operators') or 0, 'op')})"
                for s in subgraphs))
        weights = summary.get("weight_bytes_by_dtype") or {}
        lines.append("weights: " + (", ".join(
            f"{dtype} {_bytes(size)}" for dtype, size in sorted(weights.items())) or "none")
            + "; metadata: " + (", ".join(summary.get("metadata") or []) or "none"))
    return lines


def _describe(tensor: dict[str, Any]) -> str:
    shape, dtype = tensor["shape"], tensor["dtype"]
    if shape is None and dtype is None:
        return f"{tensor['name']} (shape not recorded)"
    dims = "?" if shape is None else ",".join("?" if d is None else str(d) for d in shape)
    text = f"{tensor['name']} {dtype or '?'}[{dims}]"
    q = tensor.get("quantization")
    if q and q["scale"]:
        zero_point = q["zero_point"][0] if q["zero_point"] else 0
        text += f" (scale {q['scale'][0]:.6g}, zero point {zero_point}"
        text += ", per channel)" if q["per_channel"] else ")"
    return text


def _bytes(size: int) -> str:
    for unit, scale in (("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"
