"""Model inputs from rl_state / rl_dataset rows: a float32 matrix of the state features, scaled by
statistics fit on the training slice only (docs/design.md's evaluation rules), with a
missing-indicator per feature the training slice lacked somewhere (Scaler)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rl_assets.schema import CONTRACT_FEATURES, TECHNICAL_FEATURES

STATE_FEATURES = [*CONTRACT_FEATURES, *TECHNICAL_FEATURES]
CLIP = 8.0  # scaled values beyond +-8 standard deviations are clipped (fat-tailed ratios)


def raw_matrix(frame: pd.DataFrame, columns: Sequence[str] = STATE_FEATURES) -> np.ndarray:
    """The feature columns as float64 (booleans as 0/1, missing as NaN)."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"feature columns {missing} are not in the frame")
    return np.column_stack(
        [pd.to_numeric(frame[c].astype("Float64"), errors="coerce").to_numpy(float) for c in columns]
    )


MISSING_SUFFIX = "_missing"  # an indicator column's name: the feature's, then this


@dataclass(frozen=True)
class Scaler:
    """Median/IQR scaling fit on training rows; NaN becomes 0 (the training median), and each feature
    that was missing in some training row also gets a 0/1 missing-indicator column (1 where the value
    is NaN), so a model can tell an imputed value from a real median (rl_state keeps candidates whose
    underlying lacks technicals). A feature complete in training gets no indicator, whatever later rows hold."""

    columns: tuple[str, ...]
    center: np.ndarray
    scale: np.ndarray
    missing_indicators: tuple[str, ...] = ()  # features with an indicator, in `columns`' order

    @classmethod
    def fit(cls, frame: pd.DataFrame, columns: Sequence[str] = STATE_FEATURES) -> Scaler:
        values = raw_matrix(frame, columns)
        if len(values) == 0:
            raise ValueError("cannot fit a scaler on zero rows")
        with np.errstate(all="ignore"):
            center = np.nan_to_num(np.nanmedian(values, axis=0))
            spread = np.nanpercentile(values, 75, axis=0) - np.nanpercentile(values, 25, axis=0)
        scale = np.where(np.isfinite(spread) & (spread > 0), spread, 1.0)
        missing = tuple(c for c, any_missing in zip(columns, np.isnan(values).any(axis=0), strict=True) if any_missing)
        return cls(tuple(columns), center, scale, missing)

    @property
    def feature_names(self) -> tuple[str, ...]:
        """The transform's columns in order: the features, then one indicator per missing_indicators."""
        return (*self.columns, *(f"{c}{MISSING_SUFFIX}" for c in self.missing_indicators))

    @property
    def width(self) -> int:
        """The transform's number of columns (a model's input size)."""
        return len(self.columns) + len(self.missing_indicators)

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        raw = raw_matrix(frame, self.columns)
        values = (raw - self.center) / self.scale
        scaled = np.clip(np.nan_to_num(values, nan=0.0, posinf=CLIP, neginf=-CLIP), -CLIP, CLIP)
        positions = [self.columns.index(c) for c in self.missing_indicators]
        indicators = np.isnan(raw[:, positions]).astype(float)
        return np.concatenate([scaled, indicators], axis=1).astype(np.float32)

    def to_dict(self) -> dict:
        return {
            "columns": list(self.columns),
            "center": self.center.tolist(),
            "scale": self.scale.tolist(),
            "missing_indicators": list(self.missing_indicators),
        }

    @classmethod
    def from_dict(cls, data: dict) -> Scaler:
        """A scaler from to_dict; one stored before missing-indicators existed has none."""
        indicators = tuple(data.get("missing_indicators", ()))
        unknown = [c for c in indicators if c not in data["columns"]]
        if unknown:
            raise ValueError(f"missing-indicator features {unknown} are not among the scaler's columns")
        return cls(
            tuple(data["columns"]), np.asarray(data["center"], float), np.asarray(data["scale"], float), indicators
        )
