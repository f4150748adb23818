#!/usr/bin/env bash
# Create the virtual environment holding TensorFlow 2.17.1, whose model analyzer
# still checks GPU delegate compatibility (later releases dropped the check).
# scripts/probe_gpu.py, tests/test_gpu.py and bench/bench_gpu.py call it in a
# subprocess; linting never does.  Idempotent: a venv that already imports the
# right TensorFlow is left as it is.
#
#   bash scripts/setup_gpu_checker.sh            # venv at /work/venvs/tf217
#   TFLINT_GPU_CHECKER_VENV=DIR bash scripts/setup_gpu_checker.sh
#   TFLINT_WHEELS=DIR: a folder to take the tensorflow-cpu wheel from, if it is there
set -euo pipefail

VENV="${TFLINT_GPU_CHECKER_VENV:-/work/venvs/tf217}"
WHEELS="${TFLINT_WHEELS:-/tmp/dl}"
VERSION="2.17.1"
PYTHON="${PYTHON:-python3}"

ready() {
    [ -x "$VENV/bin/python" ] && "$VENV/bin/python" - "$VERSION" <<'EOF' >/dev/null 2>&1
import sys
from importlib.metadata import version
assert version("tensorflow-cpu") == sys.argv[1]
from tensorflow.lite.python.analyzer import ModelAnalyzer  # noqa: F401
EOF
}

if ready; then
    echo "GPU compatibility checker ready: $VENV (tensorflow-cpu $VERSION)"
    exit 0
fi

"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade "pip<25"
wheel=$(ls "$WHEELS"/tensorflow_cpu-"$VERSION"-*.whl 2>/dev/null | head -n 1 || true)
# TensorFlow 2.17 is built against NumPy 1.x; the rest of its pins come from the wheel.
"$VENV/bin/python" -m pip install -q "${wheel:-tensorflow-cpu==$VERSION}" "numpy<2"

if ready; then
    echo "GPU compatibility checker ready: $VENV (tensorflow-cpu $VERSION)"
else
    echo "setup_gpu_checker: $VENV does not import tensorflow-cpu $VERSION" >&2
    exit 1
fi
