"""Diagnostics → report: one module per output format."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tflint.engine import Result

FORMATS = ("text", "json", "sarif", "github", "html")

Renderer = Callable[..., str]


def renderer(name: str) -> Renderer:
    """The ``render(result, **options)`` function of a format, imported on demand."""
    if name not in FORMATS:
        raise ValueError(f"unknown format {name!r}")
    module = import_module(f"tflint.reporters.{name}_report")
    return module.render


def render(result: Result, name: str, **options: object) -> str:
    return renderer(name)(result, **options)
