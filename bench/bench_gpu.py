"""GPU target: share of the TensorFlow 2.17.1 GPU check's flags tflint predicts, the extra
flags tflint raises and why, and the time per model of tflint and of the Analyzer.

    python bench/bench_gpu.py

Runs on the benchmark zoo (int8 and float32, from ``bench/.cache/tflite_zoo``,
built by ``python bench/tflite_zoo.py``) and on the GPU probe models.  The
checker's verdicts come from ``fixtures/probe_gpu/manifest.json``; the
Analyzer is timed only when its virtual environment is set up
(``scripts/setup_gpu_checker.sh``).
"""

from __future__ import annotations

import datetime
import json
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import probe_gpu  # noqa: E402

#: Times each analyze() call in the checker's venv (import time reported apart).
_TIMER = """
import json, os, sys, time
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
start = time.perf_counter()
import tensorflow as tf
imported = time.perf_counter() - start
times = {}
for path in sys.argv[1:]:
    begin = time.perf_counter()
    tf.lite.experimental.Analyzer.analyze(model_path=path, gpu_compatibility=True)
    times[path] = time.perf_counter() - begin
sys.stdout.flush()
print("\\n@@" + json.dumps({"import": imported, "times": times}))
"""


def tflint_seconds(path: Path, repeat: int = 3) -> float:
    """Best of ``repeat``: load the model and place every op on the GPU."""
    from tflint.analyses.delegation import predict_delegation
    from tflint.loaders import load

    best = float("inf")
    for _ in range(repeat):
        begin = time.perf_counter()
        predict_delegation(load(path), "gpu")
        best = min(best, time.perf_counter() - begin)
    return best


def analyzer_seconds(paths: list[Path]) -> tuple[float, dict[str, float]] | None:
    python = probe_gpu.checker_python()
    if python is None:
        return None
    run = subprocess.run([str(python), "-c", _TIMER, *map(str, paths)], capture_output=True,
                         text=True, timeout=1800, check=True)
    result = json.loads(run.stdout.rsplit("\n@@", 1)[1])
    return result["import"], result["times"]


def main() -> int:
    manifest = json.loads(probe_gpu.MANIFEST.read_text(encoding="utf-8"))
    present = probe_gpu.present(manifest)
    groups = {
        "zoo int8": [k for k in present if k.startswith("zoo/") and k.endswith("_int8.tflite")],
        "zoo float32": [k for k in present
                        if k.startswith("zoo/") and k.endswith("_float32.tflite")],
        "probes": [k for k in present if manifest["models"][k]["kind"] == "probe"],
    }
    print(f"bench_gpu  {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(f"checker: {manifest['checker']}")
    all_paths = [present[k] for keys in groups.values() for k in keys]
    predicted = probe_gpu.predictions(all_paths)
    print(f"\n{'group':12} {'models':>6} {'ops':>6} {'flagged':>8} {'predicted':>10} "
          f"{'extra':>6}")
    extra_reasons: dict[str, Counter[str]] = {}
    for group, keys in groups.items():
        ops = flagged = missed = extra = 0
        reasons: Counter[str] = Counter()
        for key in keys:
            verdict = probe_gpu.compare(manifest["models"][key]["checker"],
                                        predicted[present[key]])
            ops += verdict["ops"]
            flagged += verdict["flagged"]
            missed += len(verdict["missed"])
            extra += len(verdict["extra"])
            reasons.update(f"{e['op']}: {probe_gpu.reason_kind(e['reason'])}"
                           for e in verdict["extra"])
        share = 100.0 * (flagged - missed) / flagged if flagged else 100.0
        print(f"{group:12} {len(keys):6d} {ops:6d} {flagged:8d} {share:9.1f}% {extra:6d}")
        extra_reasons[group] = reasons
    for group, reasons in extra_reasons.items():
        if reasons:
            print(f"\nextra flags, {group} (reason: count):")
            for reason, count in reasons.most_common(12):
                print(f"  {count:5d}  {reason}")

    timed = [present[k] for k in groups["zoo int8"] + groups["zoo float32"]]
    timed += [present[k] for k in groups["probes"][:40]]
    if not timed:
        return 0
    ours = {p: tflint_seconds(p) for p in timed}
    print(f"\ntime per model ({len(timed)} models: zoo int8/float32 and 40 probes)")
    print(f"  tflint (load + GPU placement), median {statistics.median(ours.values()) * 1e3:.1f}"
          f" ms, max {max(ours.values()) * 1e3:.1f} ms")
    analyzed = analyzer_seconds(timed)
    if analyzed is None:
        print("  Analyzer: not set up (bash scripts/setup_gpu_checker.sh)")
        return 0
    imported, times = analyzed
    print(f"  Analyzer (analyze() call), median {statistics.median(times.values()) * 1e3:.1f}"
          f" ms, max {max(times.values()) * 1e3:.1f} ms; importing TensorFlow 2.17.1 first:"
          f" {imported:.1f} s")
    for path in timed:
        if probe_gpu.ZOO in path.parents:
            print(f"    {path.name:36} tflint {ours[path] * 1e3:7.1f} ms   Analyzer "
                  f"{times[str(path)] * 1e3:7.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
