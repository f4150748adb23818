"""What a conversion can be asked for, shared by the command line and the converter.

Kept apart from :mod:`tflint.convert`, whose classes the command line does not need
at every start.
"""

from __future__ import annotations

QUANTIZE_MODES = ("none", "dynamic", "float16", "int8")
DEFAULT_TIMEOUT = 300.0
