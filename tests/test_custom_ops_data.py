"""rules/data/custom_ops.json agrees with the real LiteRT op resolver."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, run_tflint
from tflite_builder import single_custom_op_model

pytestmark = pytest.mark.runtime

DATA = json.loads((ROOT / "rules" / "data" / "custom_ops.json").read_text())


_PROBE = """
import sys
from ai_edge_litert.interpreter import Interpreter, OpResolverType
interpreter = Interpreter(
    model_content=sys.stdin.buffer.read(),
    experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
try:
    interpreter.allocate_tensors()
except RuntimeError as exc:
    print("unresolved" if "unresolved custom op" in str(exc).lower() else "resolved")
else:
    print("resolved")
"""


def _unresolved(model: bytes) -> bool:
    """Ask the stock op resolver in a child process.

    A registered kernel may crash on this toy model while preparing (the
    detection post-processing kernel does); only a resolved op gets that far,
    so a crash counts as resolved.  An unresolved op fails cleanly.
    """
    proc = subprocess.run([sys.executable, "-c", _PROBE], input=model, capture_output=True,
                          timeout=60)
    if proc.returncode < 0:
        return False
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout.decode().strip() == "unresolved"


@pytest.mark.parametrize("code", sorted(DATA["ops"]))
def test_registration_matches_the_runtime(code: str) -> None:
    expected_unresolved = not DATA["ops"][code]["registered_by_default"]
    assert _unresolved(single_custom_op_model(code)) == expected_unresolved


def test_unknown_custom_op_is_unresolved_and_reported(tmp_path: Path) -> None:
    model = single_custom_op_model("MyNorm")
    assert _unresolved(model)
    path = tmp_path / "my_norm.tflite"
    path.write_bytes(model)
    run = run_tflint(path)
    assert run.code == 1
    assert "error TFL102 custom op 'MyNorm' is not registered by the stock op resolver" in run.out
