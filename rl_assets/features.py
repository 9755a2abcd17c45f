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
TRANSFORM_ROWS = 65_536


def raw_matrix(frame: pd.DataFrame, columns: Sequence[str] = STATE_FEATURES) -> np.ndarray:
    """The feature columns as float64 (booleans as 0/1, missing as NaN)."""
    _require_columns(frame, columns)
    matrix = np.empty((len(frame), len(columns)))
    for i, column in enumerate(columns):
        values = frame[column]
        if values.dtype == object:  # text or mixed: what is not a number becomes NaN
            values = pd.to_numeric(values, errors="coerce")
        # Nullable Int/boolean columns carry pd.NA: NaN here; plain floats and bools convert as they are.
        matrix[:, i] = values.to_numpy(dtype=float, na_value=np.nan)
    return matrix


def _require_columns(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"feature columns {missing} are not in the frame")


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
        _require_columns(frame, columns)  # every missing one named, before the rows are looked at
        if len(frame) == 0:
            raise ValueError("cannot fit a scaler on zero rows")
        # One column at a time: the temporary copies are a column's, not the whole matrix's.
        center, spread, any_missing = np.zeros(len(columns)), np.zeros(len(columns)), np.zeros(len(columns), bool)
        for i, column in enumerate(columns):
            values = raw_matrix(frame, [column])[:, 0]
            present = values[~np.isnan(values)]
            any_missing[i] = len(present) < len(values)
            if len(present):
                low, center[i], high = np.percentile(present, [25, 50, 75])
                spread[i] = high - low
        scale = np.where(np.isfinite(spread) & (spread > 0), spread, 1.0)
        missing = tuple(c for c, m in zip(columns, any_missing, strict=True) if m)
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
        """The scaled float32 matrix (features, then missing-indicators), built TRANSFORM_ROWS rows at a
        time so the float64 temporaries stay small whatever the frame's length."""
        out = np.empty((len(frame), self.width), np.float32)
        positions = [self.columns.index(c) for c in self.missing_indicators]
        for start in range(0, len(frame), TRANSFORM_ROWS):
            raw = raw_matrix(frame.iloc[start : start + TRANSFORM_ROWS], self.columns)
            values = (raw - self.center) / self.scale
            rows = slice(start, start + len(raw))
            out[rows, : len(self.columns)] = np.clip(
                np.nan_to_num(values, nan=0.0, posinf=CLIP, neginf=-CLIP), -CLIP, CLIP
            )
            out[rows, len(self.columns) :] = np.isnan(raw[:, positions])
        return out

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
