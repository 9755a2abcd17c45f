"""Model inputs from rl_state / rl_dataset rows: a float32 matrix of the state features, scaled by
statistics fit on the training slice only (docs/design.md's evaluation rules)."""

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


@dataclass(frozen=True)
class Scaler:
    """Median/IQR scaling fit on training rows; NaN becomes 0 (the training median)."""

    columns: tuple[str, ...]
    center: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, frame: pd.DataFrame, columns: Sequence[str] = STATE_FEATURES) -> Scaler:
        values = raw_matrix(frame, columns)
        if len(values) == 0:
            raise ValueError("cannot fit a scaler on zero rows")
        with np.errstate(all="ignore"):
            center = np.nan_to_num(np.nanmedian(values, axis=0))
            spread = np.nanpercentile(values, 75, axis=0) - np.nanpercentile(values, 25, axis=0)
        scale = np.where(np.isfinite(spread) & (spread > 0), spread, 1.0)
        return cls(tuple(columns), center, scale)

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        values = (raw_matrix(frame, self.columns) - self.center) / self.scale
        return np.clip(np.nan_to_num(values, nan=0.0, posinf=CLIP, neginf=-CLIP), -CLIP, CLIP).astype(np.float32)

    def to_dict(self) -> dict:
        return {"columns": list(self.columns), "center": self.center.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_dict(cls, data: dict) -> Scaler:
        return cls(tuple(data["columns"]), np.asarray(data["center"], float), np.asarray(data["scale"], float))
