"""How well tflint predicts what the Edge TPU compiler maps, and what the prediction costs.

Prints, dated:
- per compiled pair of ../shared/edgetpu_pairs (Coral's own compilations): whether
  the predicted CPU-op set and segment count are exact, and the time to load the
  model and place its ops;
- the same prediction on the int8 and float32 models of the zoo cached by
  bench/tflite_zoo.py (no compiler output exists for them: what is mapped, where
  the mapping stops, whether the model is refused) with its time.

Run: python scripts/probe_edgetpu.py (the manifest), python bench/tflite_zoo.py
(once, needs TensorFlow), then python bench/bench_edgetpu.py
"""

from __future__ import annotations

import datetime
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "scripts"))

import probe_edgetpu  # noqa: E402

from tflint.analyses.delegation import Delegation, predict_delegation  # noqa: E402
from tflint.loaders import load  # noqa: E402

ZOO = HERE / ".cache" / "tflite_zoo"
REPEATS = 7


def timed(path: Path) -> tuple[Delegation, float, int]:
    """The prediction for ``path`` and the median milliseconds of load + placement."""
    samples = []
    delegation = None
    ops = 0
    for _ in range(REPEATS):
        start = time.perf_counter()
        graph = load(str(path))
        delegation = predict_delegation(graph, "edgetpu")
        samples.append((time.perf_counter() - start) * 1000)
        ops = len(graph)
    assert delegation is not None
    return delegation, statistics.median(samples), ops


def pairs() -> list[float]:
    manifest = probe_edgetpu.load_manifest()
    print(f"compiled pairs ({len(manifest['pairs'])}, from {probe_edgetpu.PAIRS_DIR}):")
    exact = 0
    times = []
    for entry in manifest["pairs"]:
        problems = probe_edgetpu.disagreements(entry)
        delegation, ms, ops = timed(probe_edgetpu.PAIRS_DIR / entry["model"])
        times.append(ms)
        exact += not problems
        print(f"  {entry['model'][:52]:52} {ops:4} ops  CPU {len(entry['cpu_ops']):2} "
              f"(predicted {len(delegation.cpu_reasons):2})  segments "
              f"{entry['edgetpu_segments']} (predicted {delegation.partition_count})  "
              f"{'exact' if not problems else 'DIFFERS'}  {ms:7.1f} ms")
        for line in problems:
            print(f"    {line}")
    print(f"  CPU-op sets and segment counts exact on {exact}/{len(manifest['pairs'])} pairs")
    return times


def zoo() -> list[float]:
    models = sorted(p for p in ZOO.glob("*.tflite") if p.stem.endswith(("_int8", "_float32")))
    if not models:
        print(f"zoo: no models in {ZOO} (run python bench/tflite_zoo.py)")
        return []
    print(f"zoo ({len(models)} int8 and float32 models, no compiler output to compare):")
    times = []
    for path in models:
        delegation, ms, ops = timed(path)
        times.append(ms)
        if delegation.refused:
            verdict = "refused: " + delegation.refused.split(", and this is ")[-1]
        else:
            graph = load(str(path))
            counts = Counter(graph.node(n).op_type for n in delegation.cpu_reasons)
            first = min(delegation.cpu_reasons, key=lambda n: graph.node(n).location.op_index
                        or 0, default=None)
            stop = (f"; stops at op {graph.node(first).location.op_index} "
                    f"{graph.node(first).op_type}" if first else "")
            verdict = (f"{delegation.delegated}/{ops} mapped, {delegation.partition_count} "
                       f"segment(s), CPU: {dict(counts.most_common(3)) or '-'}{stop}")
        print(f"  {path.name[:40]:40} {ops:4} ops  {ms:7.1f} ms  {verdict}")
    return times


def main() -> None:
    print(f"bench_edgetpu, {datetime.datetime.now().isoformat(timespec='seconds')}")
    times = pairs() + zoo()
    if times:
        print(f"time per model (load + placement, median of {REPEATS}): median "
              f"{statistics.median(times):.1f} ms, max {max(times):.1f} ms over {len(times)} "
              "models")


if __name__ == "__main__":
    main()
