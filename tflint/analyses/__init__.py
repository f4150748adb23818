"""The analyses of one model file, computed by the engine once, when first asked for.

Rules, reports, ``--verify`` and the fixer all read the same typed results:

* :meth:`Analyses.delegation` — where each op of a ``.tflite`` runs on a target;
* :meth:`Analyses.keras_prediction` — what a Keras model will become after conversion,
  and where its ops will run;
* :meth:`Analyses.security` — what loading a Keras file would import or execute;
* :meth:`Analyses.quantization_error` — a ``.tflite`` measured against its Keras model
  (only with ``--compare-with``: it runs both models in child processes).

Whatever rules are selected, the report's placement blocks and the security gate
come from here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from tflint.graph import ModelGraph
from tflint.targets import DEFAULT_TARGET

if TYPE_CHECKING:
    from tflint.analyses.delegation import Delegation
    from tflint.analyses.keras_prediction import Prediction
    from tflint.analyses.security import ConfigScan
    from tflint.compare_findings import QuantizationError

T = TypeVar("T")


class Analyses:
    """Typed analyses of one graph, cached per file."""

    def __init__(self, graph: ModelGraph, targets: Sequence[str] = (DEFAULT_TARGET,),
                 sources: Sequence[str] = (), compare_with: str | None = None) -> None:
        self.graph = graph
        #: The Keras model a ``.tflite`` is compared with (``--compare-with``), if any.
        self.compare_with = compare_with
        #: The project's source folders, where the security scan finds its own modules.
        self.sources = tuple(sources)
        #: The targets selected for this run; the first is the primary one.
        self.targets = tuple(targets) or (DEFAULT_TARGET,)
        self._cache: dict[Any, Any] = {}

    @property
    def target(self) -> str:
        return self.targets[0]

    def _once(self, key: Any, compute: Callable[[], T]) -> T:
        if key not in self._cache:
            self._cache[key] = compute()
        result: T = self._cache[key]
        return result

    def delegation(self, target: str | None = None) -> Delegation | None:
        """Per-op placement of a ``.tflite`` on ``target``; ``None`` for other files."""
        if self.graph.kind != "tflite":
            return None
        from tflint.analyses.delegation import predict_delegation

        name = target or self.target
        return self._once(("delegation", name), lambda: predict_delegation(self.graph, name))

    def keras_prediction(self, target: str | None = None) -> Prediction | None:
        """The conversion and placement predicted from a Keras file; ``None`` for other
        files.  For a target the lowering table has no placement data for, the target
        places the predicted ops (:mod:`tflint.analyses.keras_targets`)."""
        if self.graph.kind != "keras":
            return None
        from tflint.analyses.keras_prediction import predict
        from tflint.targets import get_target

        chosen = get_target(target or self.target)
        # Where the prediction reads the source of custom layers and activations.
        self.graph.facts.setdefault("source_folders", self.sources)
        if chosen.keras_lowering_key is None:
            # The conversion is the same for every target; the target places its ops.
            from tflint.analyses.keras_targets import retarget

            base = self.keras_prediction(DEFAULT_TARGET)
            if base is None:
                return None
            return self._once(("keras", chosen.name),
                              lambda: retarget(self.graph, base, chosen.name))
        return self._once(("keras", chosen.name), lambda: predict(self.graph, chosen.name))

    def security(self) -> ConfigScan:
        """What loading the file with Keras would import, run or read (empty for TFLite)."""
        from tflint.analyses.security import scan_keras_config

        return self._once("security",
                          lambda: scan_keras_config(self.graph, self.target, self.sources))

    def quantization_error(self) -> QuantizationError | None:
        """The ``.tflite``'s output and per-layer error against the Keras model given with
        ``--compare-with``; ``None`` without it and for Keras files."""
        if self.compare_with is None or self.graph.kind != "tflite":
            return None
        from tflint.compare_findings import measure_against

        keras_path, targets = self.compare_with, self.targets
        return self._once("quantization-error",
                          lambda: measure_against(self.graph, keras_path, targets))

    def placement_block(self, target: str | None = None) -> dict[str, Any] | None:
        """The json report's block for one target, from whichever analysis fits the file."""
        delegation = self.delegation(target)
        if delegation is not None:
            return delegation.to_section(self.graph)
        prediction = self.keras_prediction(target)
        return None if prediction is None else prediction.section()

    def placement_summary(self, target: str | None = None) -> str | None:
        """The text report's one-line placement summary for one target."""
        delegation = self.delegation(target)
        if delegation is not None:
            return delegation.summary(self.graph)
        prediction = self.keras_prediction(target)
        return None if prediction is None else prediction.note()

    def shared(self, compute: Callable[[ModelGraph, str], T]) -> T:
        """A rule package's own helper analysis, computed once per file and target."""
        key = (compute.__module__, compute.__qualname__, self.target)
        return self._once(key, lambda: compute(self.graph, self.target))
