#!/usr/bin/env bash
# What the browser tests need (tests/test_html_report.py, tests/test_model_explorer.py):
# Debian's Chromium, driven by Playwright (Playwright's own browser download is never used),
# and Google's Model Explorer, which shows the --model-explorer overlay.
#
# Both Python packages only add packages to the environment (pip install --dry-run changes
# no installed version), so they go into the current one, as the "viewers" extra.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        chromium fonts-dejavu-core
fi
python -m pip install -q -e ".[viewers]"
python - <<'PY'
import model_explorer.node_data_builder  # noqa: F401
import playwright.sync_api  # noqa: F401
PY
chromium --version
