"""How many of the Keras layers whose ops end up on the CPU tflint names before conversion,
on models with Lambda and custom layers.

Usage::

    python bench/bench_custom_code.py

1. Truth: every model of ``fixtures/custom_code/`` (``generate.py`` there makes
   them; the one whose Lambda writes a file is left out, since converting runs
   it) is loaded with its own custom classes, converted with TensorFlow's
   ``TFLiteConverter.from_keras_model`` (builtins only, then
   ``SELECT_TF_OPS``) and run in LiteRT with the default XNNPACK delegate;
   the ops left on the CPU (Select TF ops included) are mapped back to Keras
   layers through the converter's tensor names.  Keras 3 models in one child
   process, tf_keras ones in another (``TF_USE_LEGACY_KERAS=1``).  The
   conversion helpers are ``bench/bench_keras_prediction.py``'s.
2. tflint: each file is linted with ``--source fixtures/custom_code``; a layer
   is *named* when a finding of TFL120 (Select TF ops), TFL121 (CPU fallback),
   TFL220 (runtime batch reshape) or TFL222 (dynamic-batch lowering) is about it.
3. Prints the fraction of CPU layers named (goal: 90% or more), the layers
   named that have no CPU op (false positives; goal: none), and per model what
   differs.
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FOLDER = ROOT / "fixtures" / "custom_code"
NAMING_RULES = ("TFL120", "TFL121", "TFL220", "TFL222")
#: Converting runs the model's code: this one writes a file when it runs.
NOT_CONVERTED = {"lambda_file_writer"}


def models() -> dict[str, list[str]]:
    sys.path.insert(0, str(FOLDER))
    from generate import MODELS

    return {flavor: [m for m in names if m not in NOT_CONVERTED]
            for flavor, names in MODELS.items()}


def truth_in_child(flavor: str) -> dict[str, Any]:
    """In this process (started for one flavor): convert every model and say what ran where."""
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    sys.path.insert(0, str(ROOT / "bench"))
    import tensorflow as tf
    from bench_keras_prediction import truth

    if flavor == "tf_keras":
        import tf_keras as keras
    else:
        import keras
    sys.path.insert(0, str(FOLDER))
    import custom_layers  # registers the classes the models name

    if flavor == "keras3":
        import ops_layers  # noqa: F401

        keras.saving.register_keras_serializable(package="elsewhere")(
            type("Ghost", (keras.layers.Layer,), {"call": lambda self, t: t * 2.0}))
    # The Lambdas refer to `tf` and `keras` as globals of the script that made them; Keras
    # gives the loaded code its own module's globals, which fall back to the builtins.
    import builtins

    builtins.tf = tf  # type: ignore[attr-defined]
    builtins.keras = keras  # type: ignore[attr-defined]
    suffix = ".keras" if flavor == "keras3" else ".h5"
    results = {}
    for name in models()[flavor]:
        path = FOLDER / f"{name}{suffix}"
        # The fixtures' own code, written by generate.py: trusted here, never by tflint.
        # tf_keras looks a registered activation function up by its registered_name,
        # which Keras writes as "function".
        try:
            model = (keras.models.load_model(path, safe_mode=False) if flavor == "keras3"
                     else keras.models.load_model(
                         path, custom_objects={"function": custom_layers.scaled_tanh}))
        except Exception as exc:  # Keras' own loader fails on some of its files
            message = str(exc).strip().splitlines()[-1][:160]
            results[path.name] = {"error": f"{flavor} cannot load it: {message}"}
            continue
        results[path.name] = truth(tf, model, flavor)
    return results


def measure_truth() -> dict[str, Any]:
    found: dict[str, Any] = {}
    for flavor in ("keras3", "tf_keras"):
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
        if flavor == "tf_keras":
            env["TF_USE_LEGACY_KERAS"] = "1"
        run = subprocess.run([sys.executable, __file__, "--truth", flavor], capture_output=True,
                             text=True, env=env, cwd=ROOT, timeout=1200)
        if run.returncode != 0:
            raise RuntimeError(f"truth for {flavor} failed:\n{run.stderr[-3000:]}")
        found.update(json.loads(run.stdout.strip().splitlines()[-1]))
    return found


def named_layers(path: Path) -> tuple[set[str], set[str]]:
    """Layers a CPU or Select TF ops finding names, and layers left opaque."""
    import tflint

    config = tflint.Config(sources=[str(FOLDER)], select=[*NAMING_RULES, "TFL103"])
    result = tflint.lint(str(path), config)
    named = {d.location.name for d in result.diagnostics if d.code in NAMING_RULES}
    opaque = {d.location.name for d in result.diagnostics if d.code == "TFL103"}
    return named, opaque


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--truth"]:
        print(json.dumps(truth_in_child(args[1])))
        return 0
    print(f"bench_custom_code: {datetime.date.today().isoformat()}")
    truth = measure_truth()
    total = found = 0
    false_positives: list[str] = []
    for file_name, real in sorted(truth.items()):
        if "error" in real:
            print(f"  {file_name}: not converted ({real['error']})")
            continue
        cpu = set(real["cpu_layers"])
        named, opaque = named_layers(FOLDER / file_name)
        total += len(cpu)
        found += len(cpu & named)
        extra = named - cpu
        false_positives += [f"{file_name}:{layer}" for layer in sorted(extra)]
        missed = sorted(cpu - named)
        line = f"  {file_name}: {len(cpu & named)}/{len(cpu)} CPU layers named"
        if extra:
            line += f"; named without CPU ops: {', '.join(sorted(extra))}"
        if missed:
            why = [f"{m} ({'opaque' if m in opaque else 'predicted on XNNPACK'}: "
                   f"{', '.join(real['cpu_layers'][m])})" for m in missed]
            line += f"; missed {'; '.join(why)}"
        if real.get("unmapped"):
            line += f"; CPU ops mapped to no layer: {', '.join(real['unmapped'])}"
        print(line)
    share = found / total if total else 1.0
    print(f"CPU layers named before conversion: {found}/{total} = {share:.1%} (goal >= 90%)")
    print(f"layers named without CPU ops (false positives): {len(false_positives)}"
          + (f": {', '.join(false_positives)}" if false_positives else "") + " (goal 0)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
