"""Whole-process cost of a lint: one ~50 MB .tflite, and a folder of 100 of them.

Side by side in one run: a bare Python start, ``tflint MODEL`` (median of
``--repeat`` runs) and TensorFlow's ``tf.lite.experimental.Analyzer`` on the same
model, for EfficientNetB3 converted with a batch of 1 (386 ops) and with a dynamic
batch (490 ops), and ``tflint FOLDER`` on a folder of 100 links to the first with
``--jobs 1`` and with one job per core, reported per file.  ``tflint MODEL``
is timed twice: from this checkout's environment (an editable install, whose
import hooks and whatever ``.pth`` files the environment has run at every
start), and as a user gets it, ``pip install``-ed (not editable) into a fresh
virtual environment in ``bench/.cache/startup_venv``.  Python's bytecode
cache is on for every command (in ``bench/.cache/pycache``), as after ``pip
install``: compiling tflint's sources on each start would cost more than the
lint.  Run:
    python bench/bench_startup.py [--repeat 9] [--folder-repeat 3]
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from models import CACHE, efficientnet_b3
from process_timing import Timing, measure

ROOT = Path(__file__).resolve().parent.parent

ANALYZER = ("import sys, tensorflow as tf; "
            "tf.lite.experimental.Analyzer.analyze(model_path=sys.argv[1], gpu_compatibility=True)")
FOLDER_SIZE = 100


def model_folder(model: Path, count: int = FOLDER_SIZE) -> Path:
    """A folder of ``count`` names for the model: hard links (no extra disk) or symlinks."""
    folder = CACHE / f"folder_{count}"
    folder.mkdir(exist_ok=True)
    for i in range(count):
        path = folder / f"model_{i:03d}.tflite"
        if not path.exists():
            try:
                os.link(model, path)
            except OSError:
                path.symlink_to(model)
    return folder


def cached_bytecode_env() -> dict[str, str]:
    """The environment with Python's bytecode cache on, kept out of the source tree."""
    env = {**os.environ, "PYTHONPYCACHEPREFIX": str(CACHE / "pycache")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def installed_venv() -> Path:
    """A virtual environment with tflint installed from this checkout as a user installs
    it (a wheel, not editable); the dependencies come from the package index once."""
    import subprocess

    venv = CACHE / "startup_venv"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", str(ROOT)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall",
                    str(ROOT)], check=True)
    return venv


def line(label: str, timing: Timing, per: int = 1) -> str:
    unit = " per file" if per > 1 else ""
    return (f"{label:<30} median {timing.median_s / per * 1000:7.1f} ms{unit} "
            f"(min {timing.min_s / per * 1000:6.1f}, CPU {timing.median_cpu_s / per * 1000:6.1f}), "
            f"peak RSS {timing.peak_rss_mib:6.1f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=9, help="runs of the single-file lint")
    parser.add_argument("--folder-repeat", type=int, default=3, help="runs of each folder lint")
    parser.add_argument("--analyzer-repeat", type=int, default=3)
    args = parser.parse_args()

    from tflint.loaders import load
    from tflint.parallel import default_jobs

    # The model of the start-up goal (a batch of 1, as converted for an app) and the same
    # network with a dynamic batch, whose shape arithmetic adds 104 ops.
    models = [efficientnet_b3(static_batch=True), efficientnet_b3()]
    env = cached_bytecode_env()
    venv = installed_venv()
    tflint = [sys.executable, "-m", "tflint", "--exit-zero"]
    user_tflint = [str(venv / "bin" / "tflint"), "--exit-zero"]
    for command in (tflint, user_tflint):  # fills the bytecode caches
        measure([*command, str(models[0])], repeat=1, env=env)
    bare = measure([sys.executable, "-c", "pass"], repeat=args.repeat, env=env)
    venv_bare = measure([str(venv / "bin" / "python"), "-c", "pass"], repeat=args.repeat,
                        env=env)
    rows: list[tuple[Path, int, Timing, Timing, Timing]] = []
    for model in models:
        editable = measure([*tflint, str(model)], repeat=args.repeat, env=env)
        user = measure([*user_tflint, str(model)], repeat=args.repeat, env=env)
        analyzer = measure([sys.executable, "-c", ANALYZER, str(model)],
                           repeat=args.analyzer_repeat, env=env)
        rows.append((model, len(load(str(model))), editable, user, analyzer))
    folder = model_folder(models[0])
    serial = measure([*user_tflint, "--jobs", "1", str(folder)], repeat=args.folder_repeat,
                     env=env)
    jobs = default_jobs()
    parallel = measure([*user_tflint, "--jobs", str(jobs), str(folder)],
                       repeat=args.folder_repeat, env=env)

    print(f"date: {datetime.datetime.now().isoformat(timespec='minutes')}, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    print(line("bare python -c pass", bare))
    print(line("venv: bare python -c pass", venv_bare))
    for model, ops, editable, user, analyzer in rows:
        print(f"model: {model.name}, {model.stat().st_size / 1e6:.1f} MB, {ops} ops")
        print(line("  tflint MODEL (pip install)", user))
        print(line("  tflint MODEL (editable)", editable))
        print(line("  TF Lite Analyzer MODEL", analyzer))
        print(f"  speed-up over the Analyzer: {analyzer.median_s / user.median_s:.1f}x")
    print(f"folder: {FOLDER_SIZE} links to {models[0].name}, pip-installed tflint")
    print(line("  tflint FOLDER --jobs 1", serial, FOLDER_SIZE))
    print(line(f"  tflint FOLDER --jobs {jobs}", parallel, FOLDER_SIZE))
    analyzer = rows[0][4]
    print(f"  speed-up over the Analyzer per file: "
          f"{analyzer.median_s / (parallel.median_s / FOLDER_SIZE):.1f}x")


if __name__ == "__main__":
    main()
