"""``tflint --fix / --diff / --convert`` on real models, with real Keras, converter and runtime.

Every fixed file is loaded back with ``keras.saving.load_model(...,
safe_mode=True)`` and its weights are compared array by array with the
original file's, read here with h5py.  The acceptance test runs the seed
models through the real command line and checks the converted result in the
real LiteRT interpreter: one XNNPACK partition and no op left outside it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from conftest import Run, fixture, run_tflint

# Each test runs tflint --fix (and Keras) in a child process: seconds each.
pytestmark = [pytest.mark.tensorflow, pytest.mark.slow]

FOLD_PLUGIN = '''
from tflint import Fix, Rule, Severity


class FoldRelu(Rule):
    """A ReLU layer right after a Conv2D could be the conv's own activation.

    ## What it does
    Finds ReLU layers whose only input is a Conv2D output.

    ## Why is this bad
    The converter fuses an activation set on the conv; a separate layer may not be.

    ## Example
    Conv2D(4, 3) followed by ReLU().

    ## How to fix
    Set activation="relu" on the Conv2D and remove the ReLU layer.

    ## Fix safety
    Safe: the model computes the same function.
    """

    code = "FIXT001"
    name = "fold-relu-test"
    category = "fusion"
    severity = Severity.INFO
    file_kinds = frozenset({"keras"})
    fix_availability = "safe"

    def check(self, ctx):
        for node in ctx.graph.nodes():
            before = ctx.graph.predecessors(node)
            if node.op_type == "ReLU" and len(before) == 1 and before[0].op_type == "Conv2D":
                yield ctx.diagnostic(node, f"fold '{node.layer_name}'", fix=Fix(
                    "safe", "fold into the conv",
                    {"op": "fold_activation", "layer": node.layer_name,
                     "into": before[0].layer_name, "activation": "relu"}))
'''

# Makes tensorflow and keras look uninstalled to the process that imports it.
NO_TENSORFLOW = '''
import sys


class _Uninstalled:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "keras"):
            raise ModuleNotFoundError(f"No module named {name!r}")
        return None


sys.meta_path.insert(0, _Uninstalled())
'''

# Runs in a child: the real LiteRT interpreter with its default XNNPACK delegate.
RUNTIME_PLAN = r'''
import json, sys
from ai_edge_litert.interpreter import Interpreter
interpreter = Interpreter(model_path=sys.argv[1], num_threads=1)
interpreter.allocate_tensors()
details = interpreter._get_ops_details()
print(json.dumps({
    "ops": [d["op_name"] for d in details if d["op_name"] != "DELEGATE"],
    "delegates": [{"inputs": [int(i) for i in d["inputs"]],
                   "outputs": [int(o) for o in d["outputs"]]}
                  for d in details if d["op_name"] == "DELEGATE"],
    "inputs": [int(d["index"]) for d in interpreter.get_input_details()],
    "outputs": [int(d["index"]) for d in interpreter.get_output_details()],
    "produced": sorted({int(o) for d in details if d["op_name"] != "DELEGATE"
                        for o in d["outputs"]}),
}))
'''


# -- helpers --------------------------------------------------------------------------------------


def copy_fixtures(folder: Path, *relatives: str) -> list[Path]:
    copies = []
    for relative in relatives:
        target = folder / Path(relative).name
        shutil.copyfile(fixture(relative), target)
        copies.append(target)
    return copies


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def keras_arrays(path: Path) -> dict[tuple[tuple[str, ...], str], np.ndarray]:
    """Every array of a .keras file, keyed by the names of the layers owning it."""
    arrays: dict[tuple[tuple[str, ...], str], np.ndarray] = {}
    with zipfile.ZipFile(path) as archive, archive.open("model.weights.h5") as raw, \
            h5py.File(raw, "r") as handle:
        def visit(name: str, item: Any) -> None:
            if not isinstance(item, h5py.Dataset):
                return
            parts = name.split("/")
            marks = [i for i, part in enumerate(parts) if part == "layers"]
            if not marks:
                return
            owners = tuple(str(handle["/".join(parts[:i + 2])]["vars"].attrs["name"])
                           for i in marks)
            arrays[(owners, "/".join(parts[marks[-1] + 2:]))] = item[()]

        handle.visititems(visit)
    return arrays


def legacy_arrays(path: Path) -> dict[str, list[np.ndarray]]:
    """``model_weights/<layer>`` arrays of a legacy .h5 file, in ``weight_names`` order."""
    with h5py.File(path, "r") as handle:
        group = handle["model_weights"]
        out = {}
        for layer in group:
            names = group[layer].attrs.get("weight_names", [])
            out[layer] = [group[layer][n.decode() if isinstance(n, bytes) else n][()]
                          for n in names]
        return out


def load_safely(path: Path) -> Any:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    return keras.saving.load_model(str(path), compile=False, safe_mode=True)


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def runtime_plan(path: Path) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-c", RUNTIME_PLAN, str(path)], capture_output=True,
                          text=True, timeout=300, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def fully_delegated(plan: dict[str, Any]) -> bool:
    """One DELEGATE node computing the model's outputs from its inputs and constants alone."""
    if len(plan["delegates"]) != 1:
        return False
    delegate = plan["delegates"][0]
    fed_by_ops = set(delegate["inputs"]) & set(plan["produced"])
    return set(plan["outputs"]) <= set(delegate["outputs"]) and not fed_by_ops


def plugin_env(folder: Path, body: str) -> dict[str, str]:
    (folder / "fixt_rules.py").write_text(body)
    dist = folder / "fixt_rules-1.0.dist-info"
    dist.mkdir(exist_ok=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fixt-rules\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[tflint.rules]\nFIXT001 = fixt_rules:FoldRelu\n")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(folder), *sys.path])}


def fix(folder: Path, *args: str | Path, env: dict[str, str] | None = None) -> Run:
    return run_tflint("--isolated", *args, cwd=folder, env=env)


# -- writing the fixed model ----------------------------------------------------------------------


def test_seed_fix_loads_safely_and_keeps_every_untouched_weight(tmp_path: Path) -> None:
    (source,) = copy_fixtures(tmp_path, "seed/custom_activation.keras")
    before = digest(source)
    run = fix(tmp_path, "--fix", "--unsafe-fixes", source.name)
    assert run.code == 0, run.out + run.err
    for layer in ("custom_act1", "custom_act2", "custom_act3"):
        assert (f'fixed TFL420 in layer "{layer}": replaced CustomActivation with '
                "LeakyReLU(negative_slope=0.1) [unsafe]") in run.out
    assert "wrote custom_activation.fixed.keras (weights of 4 layers copied unchanged)" in run.out
    output = tmp_path / "custom_activation.fixed.keras"
    assert digest(source) == before, "the input must never change"
    assert files_in(tmp_path) == ["custom_activation.fixed.keras", "custom_activation.keras"]
    model = load_safely(output)
    assert [type(model.get_layer(f"custom_act{i}")).__name__ for i in (1, 2, 3)] == [
        "LeakyReLU"] * 3
    assert model.get_layer("custom_act1").get_config()["negative_slope"] == pytest.approx(0.1)
    original, fixed = keras_arrays(source), keras_arrays(output)
    assert {k[0] for k in original} == {("conv1",), ("conv2",), ("dense_hidden",),
                                        ("dense_out",)}
    assert fixed.keys() == original.keys()
    for key, array in original.items():
        assert fixed[key].dtype == array.dtype and np.array_equal(fixed[key], array), key


@pytest.mark.parametrize(("relative", "choice", "replaced", "new_class"), [
    ("keras2/legacy_keras20.h5", "activation_1=ReLU6", "activation_1", "ReLU"),
    ("keras2/lambda_sincos_tfkeras.h5", "sincos=tanh", "sincos", "Activation"),
    ("seed/custom_activation.h5", "custom_act2=ReLU", "custom_act2", "ReLU"),
])
def test_legacy_h5_fix_keeps_every_untouched_weight(tmp_path: Path, relative: str, choice: str,
                                                    replaced: str, new_class: str) -> None:
    """Keras 2.0.x, tf.keras and Keras 3 legacy saves: arrays listed in ``weight_names``."""
    (source,) = copy_fixtures(tmp_path, relative)
    run = fix(tmp_path, "--fix", "--unsafe-fixes", "--replace-with", choice, source.name)
    assert run.code in (0, 1), run.out + run.err
    assert f'in layer "{replaced}": replaced' in run.out
    output = tmp_path / f"{source.stem}.fixed.h5.keras"  # the source's suffix stays
    assert f"wrote {output.name} (weights of" in run.out
    model = load_safely(output)
    assert type(model.get_layer(replaced)).__name__ == new_class
    stored = legacy_arrays(source)
    compared = 0
    for layer in model.layers:
        variables = list(layer.trainable_weights) + list(layer.non_trainable_weights)
        assert len(variables) == len(stored.get(layer.name, [])), layer.name
        for variable, array in zip(variables, stored.get(layer.name, []), strict=True):
            assert np.array_equal(np.asarray(variable.numpy()), array), variable.path
            compared += 1
    assert compared == sum(len(v) for v in stored.values()) > 0


def test_safe_fold_keeps_what_the_model_computes(tmp_path: Path) -> None:
    (source,) = copy_fixtures(tmp_path, "fixer/fold.keras")
    env = plugin_env(tmp_path, FOLD_PLUGIN)
    run = fix(tmp_path, "--select", "FIXT001", "--fix", source.name, env=env)
    # relu2 stays (conv2 feeds 'skip' too), an info finding, which does not fail the run.
    assert run.code == 0, run.out + run.err
    assert ('fixed FIXT001 in layer "relu1": folded ReLU \'relu1\' into Conv2D \'conv1\' '
            "(activation='relu') [safe]") in run.out
    assert 'fixed FIXT001 in layer "block_relu" of model "block"' in run.out
    assert ('left FIXT001 in layer "relu2": the output of \'conv2\' is also used by '
            "'skip'") in run.out
    assert "info FIXT001 fold 'relu2'" in run.out
    original, fixed = load_safely(source), load_safely(tmp_path / "fold.fixed.keras")
    assert "relu1" not in [layer.name for layer in fixed.layers]
    assert fixed.get_layer("conv1").get_config()["activation"] == "relu"
    sample = np.random.default_rng(0).normal(size=(4, 8, 8, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(fixed(sample)), np.asarray(original(sample)),
                               rtol=1e-6, atol=1e-6)
    assert keras_arrays(tmp_path / "fold.fixed.keras").keys() == keras_arrays(source).keys()


def test_the_input_is_never_overwritten_and_outputs_need_force(tmp_path: Path) -> None:
    (source,) = copy_fixtures(tmp_path, "seed/dynamic_reshape.keras")
    before = digest(source)
    run = fix(tmp_path, "--fix", "--unsafe-fixes", "--fix-output", source.name, source.name)
    assert run.code == 2
    assert ("dynamic_reshape.keras: fix: not fixed: dynamic_reshape.keras is the input model"
            in run.out)
    assert digest(source) == before and files_in(tmp_path) == ["dynamic_reshape.keras"]
    existing = tmp_path / "dynamic_reshape.fixed.keras"
    existing.write_bytes(b"keep me")
    run = fix(tmp_path, "--fix", "--unsafe-fixes", source.name)
    assert run.code == 2 and "already exists (pass --force to overwrite it)" in run.out
    assert existing.read_bytes() == b"keep me"
    run = fix(tmp_path, "--fix", "--unsafe-fixes", "--force", source.name)
    assert run.code == 0, run.out + run.err
    assert type(load_safely(existing).get_layer("batch_reshape")).__name__ == "Reshape"
    (tmp_path / "out").mkdir()
    run = fix(tmp_path, "--fix", "--unsafe-fixes", "--fix-output", "out/fixed.h5", source.name)
    assert run.code == 0 and "wrote out/fixed.h5" in run.out, run.out + run.err
    assert h5py.is_hdf5(tmp_path / "out" / "fixed.h5")
    assert type(load_safely(tmp_path / "out" / "fixed.h5").get_layer(
        "batch_reshape")).__name__ == "Reshape"
    assert digest(source) == before


@pytest.mark.parametrize("failing", ["save", "load back"])
def test_a_failed_write_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       failing: str) -> None:
    from tflint.engine import lint
    from tflint.fixer.apply import plan_fixes
    from tflint.fixer.writer import FixError, import_keras, write_fixed

    keras = import_keras()
    (source,) = copy_fixtures(tmp_path, "seed/custom_activation.keras")
    plan = plan_fixes(lint(str(source)).files[0], unsafe=True)
    assert plan.changed

    def half_written(self: Any, path: str, *args: Any, **kwargs: Any) -> None:
        Path(path).write_bytes(b"PK\x03\x04 half a model")
        raise OSError("No space left on device")

    def unreadable(*args: Any, **kwargs: Any) -> None:
        raise ValueError("cannot read it back")

    if failing == "save":
        monkeypatch.setattr(keras.Model, "save", half_written)
        message = "No space left on device"
    else:
        monkeypatch.setattr(keras.saving, "load_model", unreadable)
        message = "cannot read it back"
    with pytest.raises(FixError, match=message):
        write_fixed(plan, tmp_path / "out.keras")
    assert files_in(tmp_path) == ["custom_activation.keras"]


def test_a_custom_layer_with_weights_is_left_and_the_fix_says_why(tmp_path: Path) -> None:
    (source,) = copy_fixtures(tmp_path, "fixer/weighted_custom.keras")
    run = fix(tmp_path, "--fix", "--unsafe-fixes", "--replace-with", "scaled=ReLU", source.name)
    assert ('left TFL103 in layer "scaled": layer \'scaled\' has 1 weight array(s) that a new '
            "layer would not keep") in run.out
    assert "weighted_custom.keras: nothing to fix" in run.out and run.code == 1
    # Another fix applies, but the custom class stays: Keras could not build it.
    run = fix(tmp_path, "--fix", "--unsafe-fixes", "--replace-with", "scaled=ReLU",
              "--input-shape", "image=1,8,8,3", source.name)
    assert run.code == 2
    assert ("weighted_custom.keras: fix: not fixed: layer 'scaled' (ScaledTanh) is a custom "
            "class") in run.out
    assert run.out.splitlines()[-1].endswith("in 1 file; 1 file not fixed.")
    assert files_in(tmp_path) == ["weighted_custom.keras"]


def test_security_findings_left_after_the_rewrite_block_loading(tmp_path: Path) -> None:
    (source,) = copy_fixtures(tmp_path, "seed/lambda_sincos.keras")
    run = fix(tmp_path, "--fix", "--input-shape", "features=1,16", source.name)
    assert run.code == 2
    assert ("lambda_sincos.keras: fix: not fixed: the rewritten model still has security "
            "findings (TFL601: 'function' of layer 'sincos' (Lambda) is marshalled Python "
            "bytecode); Keras would run code stored in it (pass --trust-model only for a file "
            "you wrote)") in run.out
    assert files_in(tmp_path) == ["lambda_sincos.keras"]


def test_diff_shows_the_change_and_writes_nothing(tmp_path: Path) -> None:
    (source,) = copy_fixtures(tmp_path, "seed/dynamic_reshape.keras")
    run = fix(tmp_path, "--diff", "--unsafe-fixes", source.name)
    assert run.code == 1, run.out + run.err
    assert ('would fix TFL220 in layer "batch_reshape": replaced Lambda with '
            "Reshape(target_shape=[256]) [unsafe]") in run.out
    lines = run.out.splitlines()
    assert "--- dynamic_reshape.keras (model config)" in lines
    assert '~ config.layers["batch_reshape"].class_name: "Lambda" -> "Reshape"' in lines
    assert '+ config.layers["batch_reshape"].config.target_shape: [256]' in lines
    assert '~ config.layers["image"].config.batch_shape: [null, 8, 8, 3] -> [1, 8, 8, 3]' \
        in lines
    assert files_in(tmp_path) == ["dynamic_reshape.keras"]
    run = fix(tmp_path, "--diff", source.name)  # the only fix is unsafe
    assert run.code == 0 and "nothing to fix" in run.out and "---" not in run.out


# -- --convert ------------------------------------------------------------------------------------


@pytest.mark.runtime
def test_convert_writes_the_tflite_and_the_before_after_table(tmp_path: Path) -> None:
    (source,) = copy_fixtures(tmp_path, "fixer/fold.keras")
    env = plugin_env(tmp_path, FOLD_PLUGIN)
    run = fix(tmp_path, "--select", "FIXT001", "--fix", "--convert", "--latency-runs", "20",
              source.name, env=env)
    assert run.code == 0, run.out + run.err  # an info finding is left (relu2)
    tflite = tmp_path / "fold.fixed.tflite"
    assert tflite.read_bytes()[4:8] == b"TFL3"
    assert "converted the fixed model to fold.fixed.tflite" in run.out
    rows = {line.split("  ")[0]: line.split() for line in run.out.splitlines()}
    for row in ("ops", "partitions", "size"):
        assert row in rows, run.out
    assert rows["ops on XNNPACK"][-2:] == [rows["ops"][-1], "(100%)"]
    assert "before: converted from fold.keras" in run.out
    assert "latency: LiteRT interpreter with XNNPACK" in run.out
    # The converted file is linted: its placement line.
    assert any(line.startswith("fold.fixed.tflite: ") and " on XNNPACK in 1 partition" in line
               for line in run.out.splitlines())
    assert not [name for name in files_in(tmp_path) if name.startswith(".")]


def test_a_converter_failure_is_reported_in_its_own_words(tmp_path: Path) -> None:
    (source,) = copy_fixtures(tmp_path, "fixer/hashing.keras")
    run = fix(tmp_path, "--fix", "--replace-with", "act=ReLU6", "--convert", source.name)
    assert run.code == 2
    assert ("hashing.fixed.keras: convert: not converted: converter failed: 'tf.AsString' op is "
            "neither a custom op nor a flex op") in run.out
    assert "  TF Select ops: AsString, StringToHashBucketFast" in run.out
    assert run.out.splitlines()[-1] == "No findings in 1 file linted; 1 file not converted."
    assert ": error:" not in run.out and "could not be read" not in run.out
    assert files_in(tmp_path) == ["hashing.fixed.keras", "hashing.keras"]


def test_convert_without_tensorflow_names_the_extra(tmp_path: Path) -> None:
    (source,) = copy_fixtures(tmp_path, "seed/dynamic_reshape.keras")
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(NO_TENSORFLOW)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocker), *sys.path])}
    run = fix(tmp_path, "--fix", "--unsafe-fixes", "--convert", source.name, env=env)
    assert run.code == 2
    assert 'tflint: error: --convert needs TensorFlow and Keras 3' in run.err
    assert 'pip install "tflint[convert]"' in run.err
    run = fix(tmp_path, "--fix", "--unsafe-fixes", source.name, env=env)
    assert run.code == 2 and "needs Keras 3" in run.err
    assert files_in(tmp_path) == ["blocker", "dynamic_reshape.keras"]


# -- acceptance: the seed cases, through the real command line ------------------------------------


@pytest.mark.runtime
@pytest.mark.parametrize("seed", ["custom_activation", "dynamic_reshape"])
def test_seed_goes_to_one_xnnpack_partition(tmp_path: Path, seed: str) -> None:
    source, baseline = copy_fixtures(tmp_path, f"seed/{seed}.keras", f"seed/{seed}.tflite")
    current = runtime_plan(baseline)
    assert not fully_delegated(current) and len(current["delegates"]) > 1
    # The .tflite next to the model is the before column unless --baseline names one.
    chosen = ("--baseline", baseline.name) if seed == "custom_activation" else ()
    run = fix(tmp_path, "--fix", "--unsafe-fixes", "--convert", *chosen,
              "--latency-runs", "50", source.name)
    assert run.code == 0, run.out + run.err
    assert (f"before: --baseline {baseline.name}" if chosen else
            f"before: {baseline.name}, found next to {source.name}") in run.out
    after = runtime_plan(tmp_path / f"{seed}.fixed.tflite")
    assert fully_delegated(after), after
    rows = {line.split("  ")[0]: line for line in run.out.splitlines()}
    assert rows["partitions"].split()[-2:] == [str(len(current["delegates"])), "1"]
    assert rows["CPU ops"].endswith("none")
    assert rows["ops on XNNPACK"].endswith("(100%)")


@pytest.mark.runtime
def test_sincos_seed_is_already_one_xnnpack_partition(tmp_path: Path) -> None:
    """XNNPACK takes SIN, COS and MUL: only the Lambda's bytecode is a problem there."""
    source, baseline = copy_fixtures(tmp_path, "seed/lambda_sincos.keras",
                                     "seed/lambda_sincos.tflite")
    current = runtime_plan(baseline)
    assert sorted(current["ops"]) == ["COS", "FULLY_CONNECTED", "FULLY_CONNECTED", "MUL", "SIN"]
    assert fully_delegated(current)
    run = fix(tmp_path, "--fix", "--unsafe-fixes", "--convert", source.name)
    assert "lambda_sincos.keras: nothing to fix" in run.out and run.code == 1
    assert "lambda_sincos.keras: convert: not run: nothing was fixed" in run.out
    assert files_in(tmp_path) == ["lambda_sincos.keras", "lambda_sincos.tflite"]
