"""``tflint compare`` as text and json, and the gap it measured in words.

The explanation states facts the comparison holds: where the ops run
(tflint's delegation analysis), what more threads bought each engine,
dynamic input dimensions, and which kernels compute (float, int8, hybrid,
float16 weights expanded to float32).
"""

from __future__ import annotations

import json
from typing import Any

from tflint.wording import plural

KERNELS = {
    "none": "float32 kernels on both sides",
    "dynamic": "dynamic-range quantization: int8 weights, float activations",
    "float16": "float16 weights expanded to float32 when the model is prepared",
    "int8": "int8 kernels (int8 activations, per-channel int8 weights)",
    "int16x8": "16x8 kernels (int16 activations, int8 weights)",
}


def to_json(data: dict[str, Any]) -> str:
    return json.dumps(public(data), indent=2) + "\n"


def public(data: dict[str, Any]) -> dict[str, Any]:
    """The report's data without the temporary files it was measured from."""
    result = {k: v for k, v in data.items() if k not in ("layer_names", "tflite")}
    result["tflite"] = data.get("tflite_given") or data.get("saved")
    result["candidates"] = [{k: v for k, v in c.items() if k != "path"}
                            for c in data.get("candidates", [])]
    result["explanation"] = explain(data)
    return result


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}" if value < 100 else f"{value:.0f}"


def _num(value: float) -> str:
    return f"{value:.3g}" if value else "0"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row)).rstrip()
             for row in [header, *rows]]
    return lines


def render_text(data: dict[str, Any]) -> str:
    tflite = data.get("tflite_given") or data.get("saved") or "its conversion"
    source = (f"inputs from {data['inputs_file']}" if data.get("inputs_file")
              else f"seed {data['seed']}")
    lines = [f"compare: {data['model']} vs {tflite} (quantization {data['quantize']}, batch "
             f"{data.get('batch_size') or 'as saved'}, {plural(data['samples'], 'sample')}, "
             f"{source})"]
    lines += [f"  {note}" for note in data.get("notes", [])]
    lines.append("")
    timing = data.get("timing")
    if timing:
        rows = []
        for key, row in timing.items():
            engine, threads = key.split("/")
            name = "Keras (TensorFlow, graph mode)" if engine == "keras" else \
                "TFLite (LiteRT, XNNPACK)"
            rows.append([name, threads, _ms(row["latency_ms"]), f"{row['peak_mb']:.1f}",
                         str(row["runs"])])
        lines += _table(["engine", "threads", "median latency (ms)", "peak memory (MB)",
                         "runs"], rows)
        lines.append("")
    rows = [[o["output"], _num(o["max_abs_error"]), _num(o["mean_abs_error"]),
             f"{o['snr_db']:.1f}", _num(o["relative_error"])] for o in data["outputs"]]
    lines += _table(["output (TFLite vs Keras)", "max abs err", "mean abs err", "SNR (dB)",
                     "max err / max |Keras|"], rows)
    lines.append("")
    lines.append("why:")
    lines += [f"  - {sentence}" for sentence in explain(data)]
    if data.get("layers"):
        lines.append("")
        lines += layer_table(data)
    if data.get("candidates"):
        lines.append("")
        lines += candidate_table(data)
    return "\n".join(lines) + "\n"


#: Rows of the per-layer table in the text report (json has them all).
SHOWN_LAYERS = 10


def layer_table(data: dict[str, Any]) -> list[str]:
    rows = []
    for row in data["layers"][:SHOWN_LAYERS]:
        rows.append([str(row["rank"]), ",".join(row["layers"]) or row["tensor"][:40],
                     row["op"], _num(row["scale"]) if row.get("scale") else "-",
                     f"{100 * row['relative_rmse']:.2f}%", f"{100 * row['own_rmse']:.2f}%",
                     f"{100 * row['removable_rmse']:.2f}%", _num(row["max_abs_error"]),
                     f"{100 * row['output_gain']:.1f}%" if "output_gain" in row else "-"])
    more = len(data["layers"]) - SHOWN_LAYERS
    screened = any("output_gain" in row for row in data["layers"])
    return [f"where quantization hurts ({data['quantize']} vs the float model, op by op; RMSE "
            "relative to the float tensor's range: in the model, the op's own, and what "
            "keeping it float would remove"
            + ("; the worst by that are re-quantized in float and ranked first by the share of "
               "the output error it removes):" if screened else "):"),
            *_table(["rank", "layer", "op", "scale", "in model", "own", "removable",
                     "max abs err", "output error removed"], rows),
            *([f"  ... {plural(more, 'more op')} in --format json"] if more > 0 else [])]


def candidate_table(data: dict[str, Any]) -> list[str]:
    targets = list(data["placement"]["targets"])
    first = data["outputs"][0]
    base = data["placement"]["targets"]
    header = ["rank", "kept in float", "SNR (dB)", "max abs err"]
    for target in targets:
        header += [f"{target}: CPU ops", "partitions"]
    header.append("latency 1 thread (ms)")
    rows = [["-", f"none (all {data['quantize']})", f"{first['snr_db']:.1f}",
             _num(first["max_abs_error"])]
            + [v for t in targets for v in (str(base[t]["cpu_ops"]), str(base[t]["partitions"]))]
            + [_ms(data.get("quantized_latency_ms"))]]
    for candidate in data["candidates"]:
        out = candidate["outputs"][0]
        row = [str(candidate["rank"]), ",".join(candidate["layers"]) or candidate["tensor"][:40],
               f"{out['snr_db']:.1f} ({out['snr_db'] - first['snr_db']:+.1f})",
               _num(out["max_abs_error"])]
        for target in targets:
            mine = candidate["placement"].get(target, {})
            row += [_with_change(mine.get("cpu_ops"), base[target]["cpu_ops"]),
                    _with_change(mine.get("partitions"), base[target]["partitions"])]
        row.append(_ms(candidate.get("latency_ms")))
        rows.append(row)
    return ["keeping one op in float (tflint compare --quantize "
            f"{data['quantize']} --keep-float LAYER --save OUT.tflite writes it):",
            *_table(header, rows)]


def _with_change(value: int | None, base: int) -> str:
    return "-" if value is None else f"{value} ({value - base:+d})"


def explain(data: dict[str, Any]) -> list[str]:
    """The measured gap in words, from the facts the comparison holds."""
    sentences = []
    timing = data.get("timing") or {}
    cores = data.get("cores", 1)
    keras1, lite1 = timing.get("keras/1"), timing.get("tflite/1")
    if keras1 and lite1 and lite1["latency_ms"] > 0:
        ratio = keras1["latency_ms"] / lite1["latency_ms"]
        faster = "faster" if ratio >= 1 else "slower"
        factor = ratio if ratio >= 1 else 1 / ratio
        sentences.append(f"at 1 thread LiteRT is {factor:.1f}x {faster} than Keras "
                         f"({_ms(lite1['latency_ms'])} ms vs {_ms(keras1['latency_ms'])} ms); "
                         "Keras pays TensorFlow's per-op dispatch, LiteRT runs a prepared plan")
    if cores > 1 and timing.get(f"keras/{cores}") and timing.get(f"tflite/{cores}"):
        gains = {engine: timing[f"{engine}/1"]["latency_ms"] / max(
            timing[f"{engine}/{cores}"]["latency_ms"], 1e-9) for engine in ("keras", "tflite")}
        flat = [name for engine, name in (("keras", "Keras"), ("tflite", "LiteRT"))
                if gains[engine] < 1.1]
        sentences.append(f"{cores} threads instead of 1: Keras {gains['keras']:.2f}x, LiteRT "
                         f"{gains['tflite']:.2f}x" + (
                             f" ({' and '.join(flat)}: too little work per op to split, or "
                             "cores busy with other work: threads cost more than they save)"
                             if flat else ""))
    placement = data.get("placement", {})
    for target, block in placement.get("targets", {}).items():
        if block.get("refused"):
            sentences.append(f"{target}: the model is refused as a whole: {block['refused']}")
            continue
        if block["cpu_ops"] and block["cpu_ops"] == block["ops"]:
            kinds = ", ".join(f"{op} x{n}" if n > 1 else op
                              for op, n in block["cpu_op_types"].items())
            sentences.append(f"{target}: none of the {plural(block['ops'], 'op')} run on it "
                             f"({kinds}): all run on the single-threaded reference CPU kernels")
        elif block["cpu_ops"]:
            kinds = ", ".join(f"{op} x{n}" if n > 1 else op
                              for op, n in block["cpu_op_types"].items())
            sentences.append(
                f"{target}: {block['cpu_ops']} of {plural(block['ops'], 'op')} stay on the CPU "
                f"path ({kinds}), cutting the rest into "
                f"{plural(block['partitions'], 'partition')}: each CPU op runs a single-threaded "
                "reference kernel and each partition boundary copies tensors in and out")
        else:
            sentences.append(f"{target}: all {plural(block['ops'], 'op')} run on it in "
                             f"{plural(block['partitions'], 'partition')}")
    dynamic = placement.get("dynamic_inputs") or []
    if dynamic:
        names = ", ".join(f"{d['name']} {d['shape']}" for d in dynamic)
        sentences.append(f"dynamic input dimensions ({names}): shapes are planned when the "
                         "input is resized, and shape ops may stay on the CPU")
    else:
        sentences.append("static shapes: the batch is fixed, so the converter folded the shape "
                         "arithmetic into constants")
    mode = data.get("quantize", "none")
    worst = min(data["outputs"], key=lambda o: o["snr_db"]) if data["outputs"] else None
    kernel = KERNELS.get(mode, mode)
    if mode == "dynamic" and placement.get("hybrid_ops"):
        kernel += f" ({plural(placement['hybrid_ops'], 'hybrid op')} quantize activations " \
                  "at run time)"
    if worst is not None:
        if mode == "none":
            sentences.append(f"{kernel}: the outputs differ by at most "
                             f"{worst['relative_error']:.1e} of the largest output, rounding "
                             "from a different order of operations")
        else:
            sentences.append(f"{kernel}: output {worst['output']} keeps an SNR of "
                             f"{worst['snr_db']:.1f} dB against Keras")
    layers = data.get("layers") or []
    if layers:
        top = layers[0]
        name = f"{top['op']} of {','.join(top['layers']) or top['tensor']}"
        if "output_gain" in top:
            sentences.append(f"keeping {name} in float removes the most output error "
                             f"({100 * top['output_gain']:.1f}% of the output RMSE); its own "
                             f"error is {100 * top['own_rmse']:.2f}% of its range")
        else:
            sentences.append(f"the op whose own quantization error is the largest is {name} "
                             f"({100 * top['own_rmse']:.2f}% of its range)")
    best = max(data.get("candidates") or [], key=lambda c: c["outputs"][0]["snr_db"],
               default=None)
    if best is not None and worst is not None:
        gain = best["outputs"][0]["snr_db"] - data["outputs"][0]["snr_db"]
        sentences.append(f"with {','.join(best['layers']) or best['tensor']} in float the "
                         f"output SNR changes by {gain:+.1f} dB")
    return sentences
