"""The Keras lowering table: well-formed, covering, and current.

``tflint/data/keras_lowering.json`` is measured with the real converter and
LiteRT runtime by ``scripts/generate_lowering_table.py``.  The fast tests
check its shape and coverage; the slow one re-measures a representative
subset (one variant or more per family) with the installed TensorFlow,
Keras, tf_keras and LiteRT and compares with the committed entries, so that
an upgrade that changes what the converter or XNNPACK does fails here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata

import pytest
from conftest import ROOT

from tflint.graph import Location, Node

TABLE = ROOT / "tflint" / "data" / "keras_lowering.json"
SCRIPT = ROOT / "scripts" / "generate_lowering_table.py"

#: Classes the table must know (those the prediction rules cover).
REQUIRED_CLASSES = {
    "Conv1D", "Conv2D", "Conv3D", "SeparableConv1D", "SeparableConv2D", "DepthwiseConv1D",
    "DepthwiseConv2D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose", "Dense",
    "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D",
    "AveragePooling3D", "GlobalAveragePooling1D", "GlobalAveragePooling2D",
    "GlobalMaxPooling2D", "BatchNormalization", "LayerNormalization", "GroupNormalization",
    "UnitNormalization", "Dropout", "SpatialDropout1D", "SpatialDropout2D", "GaussianNoise",
    "Reshape", "Flatten", "Permute", "RepeatVector", "UpSampling1D", "UpSampling2D",
    "Resizing", "ZeroPadding1D", "ZeroPadding2D", "Cropping1D", "Cropping2D", "Concatenate",
    "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Dot", "Embedding", "LSTM",
    "GRU", "SimpleRNN", "Bidirectional", "MultiHeadAttention", "Attention",
    "AdditiveAttention", "Softmax", "ReLU", "LeakyReLU", "PReLU", "ELU", "ThresholdedReLU",
    "Activation", "Rescaling", "Normalization", "CenterCrop", "TimeDistributed", "Masking",
    "EinsumDense",
}
#: Classes whose lowering is measured per input rank (those the layer accepts), and with a
#: dimension other than the batch unknown.
RANKS = {
    "Dense": {2, 3, 4, 5}, "EinsumDense": {2, 3, 4}, "BatchNormalization": {2, 3, 4, 5},
    "LayerNormalization": {2, 3, 4, 5}, "GroupNormalization": {3, 4, 5},
    "UnitNormalization": {2, 3, 4}, "Reshape": {2, 3, 4, 5}, "Flatten": {3, 4, 5},
    "Permute": {3, 4, 5}, "MultiHeadAttention": {3, 4},
}
DYNAMIC_DIMS = {*RANKS, "Attention", "AdditiveAttention", "MaxPooling1D", "AveragePooling1D",
                "GlobalMaxPooling1D", "GlobalAveragePooling1D", "MaxPooling2D",
                "AveragePooling2D", "GlobalMaxPooling2D", "GlobalAveragePooling2D"}
ACTIVATIONS = {"relu", "relu6", "tanh", "sigmoid", "silu", "gelu", "hard_sigmoid", "hard_silu",
               "softplus", "softsign", "elu", "selu", "leaky_relu", "mish", "exponential",
               "linear"}
LOWERING_KEYS = ("ops", "delegated", "deps", "cpu_ops", "flex_ops", "converts_builtin",
                 "subgraphs")

#: Re-measured by the currentness test: at least one variant of every family.
#: One variant per lowering mechanism (a fused or folded layer, a Flex op, a WHILE loop, shape
#: ops from a dynamic dimension, a rank-dependent lowering...); the generator's ``--check``
#: re-measures the whole table.
SUBSET_KERAS3 = [
    "Conv2D/activation=gelu", "Activation/hard_silu", "Activation/relu/after=Conv2D",
    "BatchNormalization/after=Conv2D", "BatchNormalization", "LayerNormalization",
    "Resizing/bicubic", "UpSampling2D/bilinear", "Embedding", "LSTM", "MultiHeadAttention",
    "Conv2D/mixed_float16", "Dense/sequence/dynamic_dims", "Dense/volume",
    "EinsumDense/sequence/split_heads/dynamic_dims", "Flatten/volume",
    "MaxPooling2D/dynamic_dims",
]
SUBSET_TF_KERAS = ["LSTM", "Embedding", "Flatten", "Activation/silu"]


@pytest.fixture(scope="module")
def table() -> dict:
    return json.loads(TABLE.read_text(encoding="utf-8"))


def _check_lowering(entry_id: str, data: dict) -> None:
    ops = data["ops"]
    assert len(data["delegated"]) == len(ops) == len(data["deps"]), entry_id
    for i, deps in enumerate(data["deps"]):
        assert all(0 <= d < i for d in deps), f"{entry_id}: op {i} reads a later op"
    cpu = [op for op, on in zip(ops, data["delegated"], strict=True) if not on]
    assert data.get("cpu_ops", cpu) == cpu, entry_id
    assert data["flex_ops"] == [op for op in ops if op.startswith("Flex")], entry_id
    assert all(not on for op, on in zip(ops, data["delegated"], strict=True)
               if op.startswith("Flex")), f"{entry_id}: a Flex op marked delegated"
    if data["converts_builtin"]:
        assert not data["flex_ops"], entry_id


def test_table_is_well_formed(table: dict) -> None:
    assert set(table["versions"]) == {"tensorflow", "keras", "tf_keras", "ai_edge_litert"}
    ids = [e["id"] for e in table["entries"]]
    assert len(ids) == len(set(ids)), "duplicate entry ids"
    seen_when: set[tuple] = set()
    for entry in table["entries"]:
        for key in ("id", "class", "family", "when", *LOWERING_KEYS, "fused"):
            assert key in entry, f"{entry.get('id')}: no {key!r}"
        _check_lowering(entry["id"], entry)
        if "dynamic_batch" in entry:
            _check_lowering(entry["id"] + " (dynamic batch)", entry["dynamic_batch"])
        if "activation_part" in entry:
            part = entry["activation_part"]
            assert len(part["ops"]) <= len(entry["ops"])
            assert entry["fused"] == (not part["ops"])
        key = (entry["class"], json.dumps(entry["when"], sort_keys=True),
               "activation_part" in entry)
        assert key not in seen_when, f"{entry['id']}: same class and 'when' as another entry"
        seen_when.add(key)


def test_table_covers_the_listed_layers(table: dict) -> None:
    classes = {e["class"] for e in table["entries"]}
    assert REQUIRED_CLASSES <= classes, sorted(REQUIRED_CLASSES - classes)
    assert "Lambda" not in classes  # opaque: its ops cannot be known from the config
    activations = {e["when"]["activation"] for e in table["entries"]
                   if e["class"] == "Activation" and "after" not in e["when"]}
    assert ACTIVATIONS <= activations, sorted(ACTIVATIONS - activations)
    fused = {e["when"]["activation"] for e in table["entries"]
             if e["class"] == "Conv2D" and "activation_part" in e and e["fused"]}
    assert "relu" in fused and "relu6" in fused
    resize = {e["when"].get("interpolation") for e in table["entries"] if e["class"] == "Resizing"}
    assert {"bilinear", "nearest", "bicubic", "area"} <= resize
    rnn = {(e["class"], e["when"].get("keras")) for e in table["entries"] if e["family"] == "rnn"}
    assert ("LSTM", "keras3") in rnn and ("LSTM", "tf_keras") in rnn  # they lower differently


def test_when_uses_features_the_predictor_computes(table: dict) -> None:
    """Every ``when`` key is a feature ``layer_features`` (or the context) can produce."""
    from tflint.analyses.keras_prediction import layer_features

    context_keys = {"after", "after_activation", "keras"}
    for entry in table["entries"]:
        node = Node(id="n", kind="layer", op_type=entry["class"],
                    location=Location(entry["class"], "n"),
                    options={"equation": "abc,cd->abd"})  # what an EinsumDense needs
        produced = set(layer_features(node, "keras3", shape=(None, None, 5)))
        wrapped_ok = entry["class"] in ("Bidirectional", "TimeDistributed")
        for key in entry["when"]:
            if key in context_keys or wrapped_ok:
                continue
            if key == "dtype_policy":
                continue
            assert key in produced, f"{entry['id']}: 'when' key {key!r} is never computed"


def test_table_covers_input_ranks_and_unknown_dimensions(table: dict) -> None:
    """Shape-keyed classes: an entry per accepted rank (an entry without ``input_rank``
    stands for the rank of its probe) and one with an unknown non-batch dimension."""
    ranks: dict[str, set[int]] = {}
    dynamic: set[str] = set()
    for entry in table["entries"]:
        when = entry["when"]
        if "input_rank" in when:
            ranks.setdefault(entry["class"], set()).add(when["input_rank"])
        if when.get("dynamic_dims") is True:
            dynamic.add(entry["class"])
    probe_rank = {"Dense": 2, "BatchNormalization": 4, "LayerNormalization": 4,
                  "GroupNormalization": 4, "UnitNormalization": 4, "Reshape": 4, "Flatten": 4,
                  "Permute": 4, "MultiHeadAttention": 3}
    for cls, expected in RANKS.items():
        found = ranks.get(cls, set()) | ({probe_rank[cls]} if cls in probe_rank else set())
        assert expected <= found, f"{cls}: no entry for ranks {sorted(expected - found)}"
    assert DYNAMIC_DIMS <= dynamic, sorted(DYNAMIC_DIMS - dynamic)


@pytest.mark.tensorflow
@pytest.mark.runtime
def test_table_versions_are_the_installed_ones(table: dict) -> None:
    installed = {"tensorflow": metadata.version("tensorflow-cpu"),
                 "keras": metadata.version("keras"), "tf_keras": metadata.version("tf-keras"),
                 "ai_edge_litert": metadata.version("ai-edge-litert")}
    assert table["versions"] == installed, "regenerate: python scripts/generate_lowering_table.py"


@pytest.mark.tensorflow
@pytest.mark.runtime
@pytest.mark.slow
def test_table_is_current() -> None:
    """Re-measure a subset with the installed converter and runtime; compare."""
    def start(flavor: str, ids: list[str]) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, str(SCRIPT), "--check", "--flavors", flavor, "--only", ",".join(ids)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)

    runs = {"keras3": start("keras3", SUBSET_KERAS3), "tf_keras": start("tf_keras",
                                                                       SUBSET_TF_KERAS)}
    for flavor, proc in runs.items():
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, f"{flavor}: lowering changed:\n{out}"
        assert "checked" in out, out
        checked = int(out.split("checked ", 1)[1].split()[0])
        minimum = len(SUBSET_KERAS3) if flavor == "keras3" else len(SUBSET_TF_KERAS)
        assert checked >= minimum, out
