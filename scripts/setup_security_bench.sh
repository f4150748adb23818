#!/usr/bin/env bash
# Virtualenvs for the security benchmark and the file-key table, kept out of the main
# environment: modelscan (with its TensorFlow extra) and modelaudit for bench/bench_security.py,
# and the keras_hub / keras_nlp / keras_cv sources for scripts/generate_file_keys.py (read with
# ast, never imported, so installed without their dependencies).
set -euo pipefail
VENVS="${VENVS:-/work/venvs}"
python3 -m venv "$VENVS/scanners"
"$VENVS/scanners/bin/pip" install -q "modelscan[tensorflow]==0.8.8" "modelaudit==0.2.54"
python3 -m venv "$VENVS/kerashub"
"$VENVS/kerashub/bin/pip" install -q --no-deps keras-hub==0.32.0 keras-nlp==0.32.0 keras-cv==0.9.0
