"""What the loader hands out: a model ready to generate, with the kind's fast path (`engines`) built
once beside it, so the module training sees never holds an inference trick."""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import controls as C
from .. import sampling
from .engines import build_engine


class Runtime:
    """A loaded model ready to generate: in eval mode, with its fast path built once by the loader.
    Safe to share between threads (generation keeps no state between calls). A `shared` one (what
    the loader's cache hands every caller) refuses new default thresholds: one user would change
    them for all; pass `thresholds` to `generate`, or load a private one (cache=False). The fast path
    holds the weights as they were loaded: to change or move the model, load it again."""

    def __init__(self, model: Any, shared: bool = False):  # a DrumModel (runtime imports no model module)
        self.model = model.eval()
        self.engine = build_engine(model)
        self.shared = shared

    def generate(self, groove: np.ndarray, controls: dict | C.Controls | None = None, **kwargs) -> np.ndarray:
        return self.model.generate(groove, controls, engine=self.engine, **kwargs)

    def save(self, path: str, meta: dict[str, Any] | None = None) -> None:
        self.model.save(path, meta)

    @property
    def kind(self) -> str:
        return self.model.kind

    @property
    def learns_controls(self) -> bool:
        """True for a model trained with the controls (style included); False for one that only has
        them applied at sampling time (density, intensity, weights) and ignores style."""
        return self.model.learns_controls

    @property
    def plays_meters(self) -> bool:
        return bool(getattr(self.model, "plays_meters", False))

    @property
    def follows_fills(self) -> bool:
        """True for a model trained with the fill control; others ignore where fills are asked for."""
        return self.model.follows_fills

    @property
    def kept_bars_pull(self) -> float | None:
        """The model's own pull of new bars toward the kept bars (None: a model without one)."""
        return self.model.kept_bars_pull

    @property
    def config(self) -> Any:
        return self.model.config

    @property
    def meta(self) -> dict[str, Any]:
        return self.model.meta

    @property
    def thresholds(self) -> list[float]:
        return list(self.model.thresholds)  # a copy: changing it changes nothing for other users

    @thresholds.setter
    def thresholds(self, value: list[float]) -> None:
        if self.shared:
            raise ValueError("this model is shared by every caller that loaded the file: pass thresholds to "
                             "generate(), or load a private copy with load_model(path, cache=False)")
        self.model.thresholds = [float(t) for t in sampling.per_voice(value, self.model.thresholds, "thresholds", 0.0, 1.0)]

    @property
    def window(self) -> int:
        return self.model.window

    @property
    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    @property
    def stitch_rule(self) -> str | None:
        """How the model joins overlapping windows of a song (sampling.STITCH_RULES); None for a
        model that continues each window from the last instead."""
        return getattr(self.model, "stitch_rule", None)

    @stitch_rule.setter
    def stitch_rule(self, rule: str) -> None:
        if self.shared:
            raise ValueError("this model is shared by every caller that loaded the file: load a private copy "
                             "with load_model(path, cache=False) to change how it stitches windows")
        if self.stitch_rule is None:
            raise ValueError(f"the {self.kind} does not stitch windows (each continues from the last)")
        if rule not in sampling.STITCH_RULES:
            raise ValueError(f"stitch rule must be one of {sampling.STITCH_RULES}, got {rule!r}")
        self.model.stitch_rule = rule

    def __repr__(self) -> str:
        return f"Runtime({self.kind}, fast path: {self.engine is not None})"
