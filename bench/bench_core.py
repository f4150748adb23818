"""Whole-process lint time of a ~50 MB .tflite against TensorFlow's own analyzer.

Prints both timings, their ratio and tflint's peak memory.  Run:
    python bench/bench_core.py
"""

from __future__ import annotations

import datetime
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_startup import cached_bytecode_env
from models import efficientnet_b3
from process_timing import measure

ANALYZER = ("import sys, tensorflow as tf; "
            "tf.lite.experimental.Analyzer.analyze(model_path=sys.argv[1], gpu_compatibility=True)")


def main() -> None:
    model = efficientnet_b3()
    size_mb = model.stat().st_size / 1e6
    env = cached_bytecode_env()  # as after pip install, which compiles the sources
    command = [sys.executable, "-m", "tflint", "--exit-zero", str(model)]
    measure(command, repeat=1, env=env)  # fills the bytecode cache
    tflint = measure(command, repeat=7, env=env)
    analyzer = measure([sys.executable, "-c", ANALYZER, str(model)], repeat=3, env=env)
    from tflint.loaders import load

    ops = len(load(str(model)))
    print(f"date: {datetime.date.today().isoformat()}")
    print(f"model: {model.name}, {size_mb:.1f} MB, {ops} ops")
    print(f"tflint (whole process):   median {tflint.median_s * 1000:7.0f} ms, "
          f"peak RSS {tflint.peak_rss_mib:6.1f} MiB")
    print(f"TF Analyzer (whole process): median {analyzer.median_s * 1000:7.0f} ms, "
          f"peak RSS {analyzer.peak_rss_mib:6.1f} MiB")
    print(f"speed-up: {analyzer.median_s / tflint.median_s:.1f}x")


if __name__ == "__main__":
    main()
