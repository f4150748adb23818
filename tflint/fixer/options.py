"""The ``tflint check`` options of the fixer, added to the command by one decorator."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from tflint.convert_settings import DEFAULT_TIMEOUT, QUANTIZE_MODES

F = TypeVar("F", bound=Callable[..., Any])

OPTIONS = (
    click.option("--fix", is_flag=True,
                 help="Apply the safe fixes to Keras models and write MODEL.fixed.keras."),
    click.option("--unsafe-fixes", is_flag=True,
                 help="With --fix or --diff, also apply fixes that change what the model "
                      "computes (fine-tune afterwards)."),
    click.option("--diff", "fix_diff", is_flag=True,
                 help="Show what --fix would change (a diff of the model config); write nothing."),
    click.option("--replace-with", multiple=True, metavar="LAYER=CHOICE",
                 help="Replace LAYER by CHOICE: ReLU, ReLU6, LeakyReLU:0.1, ELU:1.0, Identity, "
                      "Flatten, Reshape:D1,D2 or an activation name such as hard_swish "
                      "(repeatable; overrides the rule's suggestion)."),
    click.option("--input-shape", multiple=True, metavar="NAME=D1,D2,...",
                 help="Fix the unknown dimensions of input NAME, e.g. image=1,224,224,3."),
    click.option("--fix-output", type=click.Path(dir_okay=False, path_type=Path),
                 help="Where --fix writes the fixed model (.keras or .h5) "
                      "[default: MODEL.fixed.keras next to the input]."),
    click.option("--force", is_flag=True, help="Let --fix overwrite existing output files."),
    click.option("--trust-model", is_flag=True,
                 help="Let --fix load a rewritten model that still has security findings "
                      "(Lambda bytecode...): only for files you wrote yourself."),
    click.option("--convert", is_flag=True,
                 help="With --fix, convert the fixed model to MODEL.fixed.tflite and compare it "
                      "with the original (needs the convert extra)."),
    click.option("--quantize", type=click.Choice(QUANTIZE_MODES), default="none",
                 show_default=True, help="Quantization for --convert."),
    click.option("--representative-data", type=click.Path(dir_okay=False, path_type=Path),
                 help="A .npy file of input samples for --quantize int8 (default: random "
                      "data, with a warning)."),
    click.option("--keep-float", "keep_float", multiple=True, metavar="LAYER,...",
                 help="With --convert --quantize int8, keep these Keras layers' ops in float "
                      "(as 'tflint compare' ranks them; repeatable)."),
    click.option("--convert-batch", type=click.IntRange(min=0), default=1, show_default=True,
                 help="Static batch size for --convert; 0 keeps the model's own batch."),
    click.option("--baseline", type=click.Path(dir_okay=False, path_type=Path),
                 help="The original model's .tflite, for the 'before' column of --convert when "
                      "tflint cannot convert the original itself."),
    click.option("--latency-runs", type=click.IntRange(min=0), default=100, show_default=True,
                 help="Runs per model for the median latency of --convert (0: no timing)."),
    click.option("--convert-timeout", type=click.FloatRange(min=1), default=DEFAULT_TIMEOUT,
                 show_default=True, help="Seconds the converter may take per model."),
)


def fix_options(function: F) -> F:
    """Add every fixer option to a click command; they arrive as keyword arguments."""
    for option in reversed(OPTIONS):
        function = option(function)
    return function
