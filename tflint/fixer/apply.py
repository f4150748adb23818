"""Choose the fixes to apply to one Keras file and apply them to its config.

Fixes come from the diagnostics' ``Fix`` objects and from the command line
(``--replace-with``, ``--input-shape``).  Safe fixes are always taken,
unsafe ones only with ``--unsafe-fixes``; fixes the user spelled out on the
command line are taken as asked (they are marked unsafe: the user answers
for what the model computes).  A fix is left out, with the reason, when its
layer holds weights the new layer would not keep, when another fix already
rewrote the layer, or when the config does not allow it.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tflint.config import Config
from tflint.diagnostics import Diagnostic
from tflint.engine import FileResult, lint_file
from tflint.errors import ModelFileError, UsageError
from tflint.fixer.actions import apply_action, describe_layer, layer_locations
from tflint.fixer.configs import ActionError
from tflint.fixer.weights import LayerKey, OriginalWeights
from tflint.gate import Concern
from tflint.kerasconfig import KerasModelConfig
from tflint.loaders import sniff_container
from tflint.loaders.keras_files import read_h5, read_json_file, read_keras_zip

#: Lint-and-fix rounds at most: each round applies what the previous one revealed.
MAX_PASSES = 5
#: ``--replace-with`` choices that are layers of their own; any other lowercase
#: name is a Keras activation function used through ``Activation``.
LAYER_CHOICES: dict[str, tuple[str, dict[str, Any], str | None]] = {
    # choice: (class, fixed config, name of the one ``:VALUE`` parameter)
    "ReLU": ("ReLU", {}, None),
    "ReLU6": ("ReLU", {"max_value": 6.0}, None),
    "LeakyReLU": ("LeakyReLU", {}, "negative_slope"),
    "ELU": ("ELU", {}, "alpha"),
    "Identity": ("Identity", {}, None),
    "Flatten": ("Flatten", {}, None),
    "Reshape": ("Reshape", {}, "target_shape"),
}
ACTIVATIONS = frozenset({
    "celu", "elu", "exponential", "gelu", "glu", "hard_shrink", "hard_sigmoid", "hard_silu",
    "hard_swish", "hard_tanh", "leaky_relu", "linear", "log_sigmoid", "log_softmax", "mish",
    "relu", "relu6", "selu", "sigmoid", "silu", "soft_shrink", "softmax", "softplus",
    "softsign", "sparse_plus", "squareplus", "swish", "tanh", "tanh_shrink",
})


@dataclass(frozen=True)
class Replacement:
    """One ``--replace-with LAYER=CHOICE``."""

    layer: str
    model: str | None
    spec: dict[str, Any]
    text: str
    #: The option as the user typed it, for messages.
    option: str = ""


def parse_replacement(value: str) -> Replacement:
    target, sep, choice = value.partition("=")
    if not sep or not target.strip() or not choice.strip():
        raise UsageError(f"--replace-with {value!r}: expected LAYER=CHOICE, e.g. act=ReLU6")
    target, choice = target.strip(), choice.strip()
    model, _, layer = target.rpartition("/")
    name, _, argument = choice.partition(":")
    if name in LAYER_CHOICES:
        class_name, fixed, parameter = LAYER_CHOICES[name]
        config = dict(fixed)
        if argument:
            if parameter is None:
                raise UsageError(f"--replace-with {value!r}: {name} takes no ':VALUE'")
            config[parameter] = _choice_value(value, parameter, argument)
        elif name == "Reshape":
            raise UsageError(f"--replace-with {value!r}: Reshape needs ':D1,D2,...'")
        spec = {"class_name": class_name, "config": config}
    elif name in ACTIVATIONS and not argument:
        spec = {"class_name": "Activation", "config": {"activation": name}}
    else:
        known = ", ".join([*LAYER_CHOICES, "or an activation name (hard_swish, relu6...)"])
        raise UsageError(f"--replace-with {value!r}: unknown choice {choice!r} (use {known})")
    return Replacement(layer, model or None, spec, choice, f"--replace-with {value}")


def _choice_value(option: str, parameter: str, text: str) -> Any:
    try:
        if parameter == "target_shape":
            return [int(part) for part in text.split(",")]
        return float(text)
    except ValueError:
        raise UsageError(f"--replace-with {option!r}: bad value {text!r}") from None


def input_shape_option(name: str, shape: list[int]) -> str:
    """``--input-shape image=1,224,224,3``, as the user would have typed it."""
    return f"--input-shape {name}={','.join(map(str, shape))}"


def parse_input_shape(value: str) -> tuple[str, list[int]]:
    name, sep, dims = value.partition("=")
    try:
        shape = [int(d) for d in dims.split(",")] if sep else []
    except ValueError:
        shape = []
    if not name.strip() or not shape or any(d < 1 for d in shape):
        raise UsageError(f"--input-shape {value!r}: expected NAME=D1,D2,... e.g. image=1,224,224,3")
    return name.strip(), shape


@dataclass
class Candidate:
    """A fix the fixer may apply."""

    action: dict[str, Any]
    applicability: str
    title: str
    #: The rule code, or the option that asked for it (``--replace-with``).
    code: str
    from_cli: bool = False
    #: The command-line option that asked for it, as typed (``--replace-with act=ReLU6``).
    option: str | None = None

    @property
    def subject(self) -> str:
        return str(self.action.get("layer") or self.action.get("input") or "?")

    @property
    def model(self) -> str | None:
        return self.action.get("model")

    def where(self) -> str:
        kind = "input" if "input" in self.action else "layer"
        text = f'{kind} "{self.subject}"'
        return f'{text} of model "{self.model}"' if self.model else text

    def touches(self) -> list[LayerKey]:
        keys: list[LayerKey] = [(self.model, self.subject)]
        if isinstance(self.action.get("into"), str):
            keys.append((self.model, self.action["into"]))
        return keys


@dataclass
class Applied:
    candidate: Candidate
    description: str

    def line(self, verb: str = "fixed") -> str:
        c = self.candidate
        return f"{verb} {c.code} in {c.where()}: {self.description} [{c.applicability}]"


@dataclass
class Skipped:
    candidate: Candidate
    reason: str
    #: Left out by choice (an unsafe fix without --unsafe-fixes), not because it cannot apply.
    by_choice: bool = False
    #: The config does not allow it (no such layer or input, a shape that cannot be).
    inapplicable: bool = False

    def line(self) -> str:
        c = self.candidate
        return f"left {c.code} in {c.where()}: {self.reason}"


@dataclass
class FixPlan:
    path: str
    container: str
    dialect: str
    facts: dict[str, Any]
    original: dict[str, Any]
    document: dict[str, Any]
    applied: list[Applied] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    #: Layers that hold a new layer object (no weights to copy) and layers removed.
    fresh: set[LayerKey] = field(default_factory=set)
    removed: set[LayerKey] = field(default_factory=set)
    #: Diagnostics the rewritten config still has (selected rules) and its security findings
    #: (every security rule, whatever the selection).
    remaining: list[Diagnostic] = field(default_factory=list)
    security: list[Concern] = field(default_factory=list)
    #: Which fix rewrote each layer, and the actions applied: later passes neither undo
    #: nor repeat them.
    touched: dict[LayerKey, str] = field(default_factory=dict)
    done: list[dict[str, Any]] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.applied)


def read_config(path: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The model config and container facts, read as the linter reads them (no Keras)."""
    container = sniff_container(path)
    if container == "hdf5":
        return read_h5(path)
    if container == "zip":
        return read_keras_zip(path)
    if container == "json":
        return read_json_file(path)
    raise ModelFileError("not a Keras model file")


def candidates(file: FileResult, unsafe: bool, replacements: list[Replacement],
               input_shapes: list[tuple[str, list[int]]],
               include_cli: bool = True) -> tuple[list[Candidate], list[Skipped]]:
    """Fixes in diagnostic order, command-line choices overriding the rules' for their layer.

    ``include_cli=False`` only lets the command-line choices override (later
    passes: the choices themselves were applied by the first).
    """
    chosen: list[Candidate] = []
    left: list[Skipped] = []
    overridden = {(r.model, r.layer) for r in replacements}
    by_layer = {r.layer for r in replacements if r.model is None}
    shaped = {name for name, _ in input_shapes}
    codes: dict[tuple[str | None, str], str] = {}
    for diagnostic in file.diagnostics:
        if diagnostic.location is not None:
            # A command-line fix is listed under the first rule that reported its layer.
            codes.setdefault((diagnostic.location.model, diagnostic.location.name),
                             diagnostic.code)
            codes.setdefault((None, diagnostic.location.name), diagnostic.code)
        fix = diagnostic.fix
        if fix is None or not isinstance(fix.action, dict) or "op" not in fix.action:
            continue
        action = dict(fix.action)
        if "layer" in action and "model" not in action and diagnostic.location is not None:
            action["model"] = diagnostic.location.model
        candidate = Candidate(action, fix.applicability, fix.title, diagnostic.code)
        key = (candidate.model, candidate.subject)
        if "layer" in action and (key in overridden or candidate.subject in by_layer):
            continue
        if action.get("op") == "set_input_shape" and candidate.subject in shaped:
            continue
        if fix.applicability == "unsafe" and not unsafe:
            left.append(Skipped(candidate, f"unsafe fix not applied (--unsafe-fixes): {fix.title}",
                                by_choice=True))
            continue
        chosen.append(candidate)
    if not include_cli:
        return chosen, left
    for r in replacements:
        code = codes.get((r.model, r.layer)) or codes.get((None, r.layer)) or "--replace-with"
        action = {"op": "replace_layer", "layer": r.layer, "with": r.spec}
        if r.model is not None:
            action["model"] = r.model
        title = f"replace with {describe_layer(r.spec['class_name'], r.spec['config'])}"
        chosen.append(Candidate(action, "unsafe", title, code, from_cli=True,
                                option=r.option or None))
    for name, shape in input_shapes:
        action = {"op": "set_input_shape", "input": name, "shape": shape}
        chosen.append(Candidate(action, "unsafe", f"set input shape {shape}", "--input-shape",
                                from_cli=True, option=input_shape_option(name, shape)))
    return chosen, left


def _locate(document: dict[str, Any], candidate: Candidate) -> None:
    """Fill in the model of a command-line fix named by layer only."""
    if "layer" not in candidate.action or candidate.action.get("model") is not None:
        return
    where = layer_locations(document, candidate.subject)
    if len(where) == 1:
        candidate.action["model"] = where[0]


def _weights_reason(candidate: Candidate, weights: OriginalWeights | None) -> str | None:
    op = candidate.action.get("op")
    if weights is None or op not in ("replace_layer", "static_reshape", "fold_activation"):
        return None
    count = weights.count(candidate.model, candidate.subject)
    if not count:
        return None
    if op == "fold_activation":
        return f"layer '{candidate.subject}' has {count} weight array(s) folding would drop"
    return (f"layer '{candidate.subject}' has {count} weight array(s) that a new layer "
            "would not keep; replace it in your code and retrain")


def plan_fixes(file: FileResult, *, unsafe: bool = False,
               replacements: list[Replacement] | None = None,
               input_shapes: list[tuple[str, list[int]]] | None = None,
               weights: OriginalWeights | None = None,
               document: dict[str, Any] | None = None,
               facts: dict[str, Any] | None = None) -> FixPlan:
    """Apply the chosen fixes to a copy of the file's config (nothing is written)."""
    if document is None or facts is None:
        document, facts = read_config(file.path)
    # The dialect the linter read the file in (a config that is no model raises here).
    dialect = KerasModelConfig(document, facts.get("keras_version")).dialect
    plan = FixPlan(file.path, str(facts.get("container")), dialect, facts, document,
                   copy.deepcopy(document))
    chosen, plan.skipped = candidates(file, unsafe, replacements or [], input_shapes or [])
    _apply(plan, chosen, weights)
    return plan


def _apply(plan: FixPlan, chosen: list[Candidate], weights: OriginalWeights | None) -> None:
    for candidate in chosen:
        _locate(plan.document, candidate)
        if candidate.action in plan.done:
            continue  # two rules asking for the same change
        clash = next((plan.touched[k] for k in candidate.touches() if k in plan.touched), None)
        reason = (f"layer already rewritten by {clash}" if clash
                  else _weights_reason(candidate, weights))
        inapplicable = False
        if reason is None:
            try:
                change = apply_action(plan.document, plan.dialect, candidate.action)
            except ActionError as exc:
                reason, inapplicable = str(exc), True
        if reason is not None:
            plan.skipped.append(Skipped(candidate, reason, inapplicable=inapplicable))
            continue
        plan.done.append(candidate.action)
        for key in candidate.touches():
            plan.touched[key] = candidate.code
        plan.applied.append(Applied(candidate, change.description))
        plan.fresh.update((change.model, name) for name in change.new_layers)
        plan.removed.update((change.model, name) for name in change.removed_layers)


def check_options_apply(plans: list[FixPlan], options: list[str]) -> None:
    """A command-line fix no model of the run can take is a usage error: a typo in a layer
    or input name, a shape of the wrong rank.  Raised before anything is written."""
    for option in options:
        if any(a.candidate.option == option for plan in plans for a in plan.applied):
            continue
        refused = [(plan, s) for plan in plans for s in plan.skipped
                   if s.candidate.option == option]
        if refused and all(s.inapplicable for _, s in refused):
            plan, skipped = refused[0]
            raise UsageError(f"{option}: {plan.path}: {skipped.reason}")


def fix_until_stable(plan: FixPlan, config: Config, *, unsafe: bool = False,
                     replacements: list[Replacement] | None = None,
                     input_shapes: list[tuple[str, list[int]]] | None = None,
                     weights: OriginalWeights | None = None) -> None:
    """Lint the rewritten config and apply the fixes it brings up, until none is new.

    A fix can reveal the next one (a Lambda replaced by ``Reshape`` now
    lowers to runtime shape ops because the batch is dynamic: set it).
    Layers already rewritten are left alone, so passes cannot undo each
    other; ``plan.remaining`` and ``plan.security`` describe the last state.
    """
    for _ in range(MAX_PASSES):
        check_rewritten(plan, config)
        found = FileResult(plan.path, "keras", diagnostics=plan.remaining)
        chosen, left = candidates(found, unsafe, replacements or [], input_shapes or [],
                                  include_cli=False)
        listed = {(s.candidate.code, s.candidate.subject) for s in plan.skipped}
        plan.skipped += [s for s in left if (s.candidate.code, s.candidate.subject) not in listed]
        new = [c for c in chosen if not _already(plan, c)]
        if not new:
            return
        applied = len(plan.applied)
        _apply(plan, new, weights)
        if len(plan.applied) == applied:
            return
    check_rewritten(plan, config)


def _already(plan: FixPlan, candidate: Candidate) -> bool:
    """Applied before, or left before for a reason that has not changed."""
    _locate(plan.document, candidate)
    if candidate.action in plan.done:
        return True
    return any(s.candidate.action == candidate.action for s in plan.skipped)


def check_rewritten(plan: FixPlan, config: Config) -> None:
    """Lint the rewritten config: what remains, and what the security gate finds.

    The gate reads the engine's security scan whatever ``--select``/``--ignore``
    say: it decides whether Keras may load the rewritten model at all.
    """
    from tflint.engine import select_rules
    from tflint.gate import concerns

    selected = select_rules(config)
    with tempfile.TemporaryDirectory(prefix="tflint-fix-") as folder:
        path = os.fspath(Path(folder) / (Path(plan.path).stem + ".json"))
        Path(path).write_text(json.dumps(plan.document), encoding="utf-8")
        result = lint_file(path, selected, config)
    if result.error is not None or result.analyses is None:
        raise ActionError(f"the rewritten config cannot be read back: {result.error}")
    plan.remaining = result.diagnostics
    plan.security = concerns(result.analyses.security())
