#!/usr/bin/env bash
# Install Arm's Vela compiler, which the Ethos-U probes, tests (marker `vela`) and
# benchmark compare tflint with.  It goes into the main environment: it needs only
# numpy and flatbuffers, already there, and changes no shared package.
set -euo pipefail
cd "$(dirname "$0")/.."
wheel=$(ls /tmp/dl/ethos_u_vela-5.2.0-*.whl 2>/dev/null | head -n 1 || true)
if [ -n "$wheel" ]; then
    python -m pip install --no-deps "$wheel"
else
    python -m pip install -e ".[ethosu]"
fi
python -c "from importlib.metadata import version; print('ethos-u-vela', version('ethos-u-vela'))"
