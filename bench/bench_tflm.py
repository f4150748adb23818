"""How well tflint predicts what TensorFlow Lite for Microcontrollers runs, and its arena.

Prints, dated, over the zoo of bench/tflite_zoo.py (int8 and float32) plus the
.tflite fixtures:
- the share of models whose set of failing ops is predicted exactly: the truth
  is every op of the main subgraph cut into a one-op model and run in the
  tflite-micro interpreter (prepare and invoke), so every failing op is found,
  not only the first;
- the share of models that run whole in the interpreter whose arena estimate
  is within 10% of the arena its recording allocator reports.

Run: python bench/tflite_zoo.py (once, needs TensorFlow), then
     python bench/bench_tflm.py          (needs tflite-micro: pip install --pre tflite-micro)
"""

from __future__ import annotations

import datetime
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "scripts"))

import probe_tflm  # noqa: E402
from tflite_zoo import zoo_paths  # noqa: E402

#: Fixture folders that are not probe sets of one op each.
FIXTURE_DIRS = ("tflite", "quantization", "fusion", "dynamic", "clean")


def models() -> list[Path]:
    zoo = [p for p in zoo_paths() if "_int8" in p.name or "_float32" in p.name]
    own = sorted(p for d in FIXTURE_DIRS for p in (ROOT / "fixtures" / d).glob("*.tflite"))
    return zoo + own


def main() -> int:
    paths = models()
    if not paths:
        print("no models: run python bench/tflite_zoo.py first")
        return 1
    print(f"bench_tflm {datetime.datetime.now().isoformat(timespec='seconds')} "
          f"({probe_tflm.runtime_version()})")
    exact = 0
    compared = 0
    mismatched: list[str] = []
    with tempfile.TemporaryDirectory() as folder:
        cuts: dict[Path, list[tuple[str, Path]]] = {}
        for model in paths:
            try:
                pieces = probe_tflm.cut_ops(model.read_bytes())
            except Exception as exc:  # a fixture the schema reader cannot take
                print(f"  {model.name}: not cut ({type(exc).__name__})")
                continue
            cuts[model] = []
            for name, data in pieces:
                piece = Path(folder) / f"{model.stem}__{name}.tflite"
                piece.write_bytes(data)
                cuts[model].append((name, piece))
        reports = probe_tflm.runtime_reports([p for v in cuts.values() for _, p in v] +
                                             list(cuts))
        runs = close = prepared = prepared_close = 0
        for model, pieces in cuts.items():
            actual = {name for name, piece in pieces if reports[piece]["status"] != "ok"}
            predicted = set()
            for name, piece in pieces:
                if probe_tflm.predicted_failures(piece):
                    predicted.add(name)
            compared += 1
            if actual == predicted:
                exact += 1
            else:
                mismatched.append(f"  {model.name}: runtime fails {sorted(actual - predicted)} "
                                  f"unpredicted, predicted {sorted(predicted - actual)} wrongly")
            whole = reports[model]
            if whole.get("arena", {}).get("total"):
                # Allocation happened: the arena is reported even if Invoke then fails.
                measured = whole["arena"]["total"]
                estimate = probe_tflm.predicted_arena(model)
                within = abs(estimate - measured) <= 0.1 * measured
                prepared += 1
                prepared_close += within
                if whole["status"] == "ok":
                    runs += 1
                    close += within
                print(f"  {model.name}: {whole['status']}, arena {measured} B, estimated "
                      f"{estimate} B ({(estimate - measured) / measured:+.1%})")
    for line in mismatched:
        print(line)
    print(f"failing-op sets exact: {exact}/{compared} models ({exact / max(compared, 1):.1%})")
    print(f"arena within 10%: {close}/{runs} models that run ({close / max(runs, 1):.1%})")
    print(f"arena within 10%: {prepared_close}/{prepared} models that prepare "
          f"({prepared_close / max(prepared, 1):.1%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
