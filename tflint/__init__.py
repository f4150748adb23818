"""tflint: a static linter for Keras and TensorFlow Lite models.

Python API::

    import tflint
    result = tflint.lint("model.h5")
    for diagnostic in result.diagnostics:
        print(diagnostic.code, diagnostic.message)
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tflint")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

from tflint.config import Config
from tflint.diagnostics import Diagnostic, Fix, Severity
from tflint.engine import FileResult, Result, lint
from tflint.rule import Rule, RuleContext

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
