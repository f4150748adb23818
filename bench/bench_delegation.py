"""How well tflint predicts XNNPACK delegation, and what the prediction costs.

Prints, dated:
- node-level agreement between prediction and the LiteRT runtime, and the
  share of models whose partition count is exact, over the zoo of
  bench/tflite_zoo.py plus every .tflite fixture;
- extra whole-process wall time of the prediction on a ~50 MB model with a
  few hundred ops (tflint with and without the xnnpack-fallback rule);
- prediction time on 100, 1 000 and 10 000-op models (linearity).

Run: python bench/tflite_zoo.py (once, needs TensorFlow), then
     python bench/bench_delegation.py
"""

from __future__ import annotations

import datetime
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from make_large_tflite import chain_of_adds  # noqa: E402
from models import CACHE, efficientnet_b3  # noqa: E402
from process_timing import measure  # noqa: E402
from tflite_zoo import zoo_paths  # noqa: E402

import tflint  # noqa: E402
from tflint.analyses.delegation import predict_delegation  # noqa: E402
from tflint.loaders import load  # noqa: E402
from tflint.verify import VerifyError, compare, run_runtime  # noqa: E402


def accuracy() -> None:
    fixtures = HERE.parent / "fixtures"
    # The probe models are checked by tests/test_xnnpack_probe.py, in batches.
    paths = zoo_paths() + sorted(p for p in fixtures.rglob("*.tflite")
                                 if not p.relative_to(fixtures).parts[0].startswith("probe"))
    nodes = agreeing = exact = models = 0
    misses: list[str] = []
    for path in paths:
        [file] = tflint.lint(str(path)).files
        if file.error or file.delegation is None:
            print(f"  {path.name}: not linted: {file.error}")
            continue
        try:
            verdict = compare(file.delegation, run_runtime(str(path), 300))
        except VerifyError as exc:
            print(f"  {path.name}: runtime failed: {exc}")
            continue
        models += 1
        nodes += verdict["ops"]
        agreeing += verdict["agreeing_ops"]
        exact += verdict["predicted_partitions"] == verdict["actual_partitions"]
        if not verdict["matches"]:
            misses.append(f"  {path.name}: {verdict['disagreements'][:3]} partitions "
                          f"{verdict['predicted_partitions']} vs {verdict['actual_partitions']}")
    print(f"models: {models} ({len(zoo_paths())} zoo models, the rest fixtures)")
    print(f"node-level agreement: {agreeing}/{nodes} = {100 * agreeing / max(nodes, 1):.2f}%")
    print(f"exact partition count: {exact}/{models} = {100 * exact / max(models, 1):.1f}%")
    print("\n".join(misses) if misses else "  no disagreement")


def overhead() -> None:
    model = efficientnet_b3()
    ops = len(load(str(model)))
    base = [sys.executable, "-m", "tflint", "--exit-zero", "--isolated", str(model)]
    # A security-only run loads the model and computes no placement: the baseline.
    without = measure([*base, "--select", "security"], repeat=9)
    with_prediction = measure([*base, "--select", "TFL110"], repeat=9)
    extra = (with_prediction.median_s - without.median_s) / without.median_s
    print(f"{model.name} ({ops} ops): load only {without.median_s * 1000:.0f} ms, "
          f"with the prediction and TFL110 {with_prediction.median_s * 1000:.0f} ms: "
          f"{100 * extra:+.1f}% wall time")


def scaling() -> None:
    for ops in (100, 1_000, 10_000):
        path = CACHE / f"chain_{ops}.tflite"
        if not path.exists():
            CACHE.mkdir(exist_ok=True)
            path.write_bytes(chain_of_adds(ops, cpu_every=10))
        graph = load(str(path))
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            delegation = predict_delegation(graph, "xnnpack")
            best = min(best, time.perf_counter() - start)
        print(f"{ops:6d} ops: prediction {best * 1000:8.1f} ms "
              f"({best / ops * 1e6:5.1f} us/op), {delegation.partition_count} partitions")


def main() -> None:
    print(f"date: {datetime.date.today().isoformat()}")
    print("== prediction vs LiteRT runtime")
    accuracy()
    print("== cost on a few-hundred-op model (whole process)")
    overhead()
    print("== scaling (in process)")
    scaling()


if __name__ == "__main__":
    main()
