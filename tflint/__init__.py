"""tflint: a static linter for Keras and TensorFlow Lite models.

Python API::

    import tflint
    result = tflint.lint("model.h5")
    for diagnostic in result.diagnostics:
        print(diagnostic.code, diagnostic.message)
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tflint.config import Config
    from tflint.diagnostics import Diagnostic, Fix, Severity
    from tflint.engine import FileResult, Result, lint
    from tflint.rule import Rule, RuleContext

# The public names are imported on first use: ``tflint --help`` or a worker
# process should not pay for the engine it may never run.
_PUBLIC = {
    "Config": "tflint.config",
    "Diagnostic": "tflint.diagnostics",
    "Fix": "tflint.diagnostics",
    "Severity": "tflint.diagnostics",
    "FileResult": "tflint.engine",
    "Result": "tflint.engine",
    "lint": "tflint.engine",
    "Rule": "tflint.rule",
    "RuleContext": "tflint.rule",
}


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from tflint.installed import version

        # None: running from a source tree that is not installed.
        value: Any = version("tflint") or "0.0.0+unknown"
    elif name in _PUBLIC:
        value = getattr(import_module(_PUBLIC[name]), name)
    else:
        raise AttributeError(f"module 'tflint' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC, "__version__"])


__all__ = [
    "Config",
    "Diagnostic",
    "FileResult",
    "Fix",
    "Result",
    "Rule",
    "RuleContext",
    "Severity",
    "__version__",
    "lint",
]
