"""The supervised baseline: a small torch MLP classifier of hit_50 from the state features.

Seeded and reproducible on CPU: the same data, config and seed give the same weights bit for bit.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn


@dataclass(frozen=True)
class BaselineConfig:
    hidden: int = 64
    epochs: int = 6
    batch_size: int = 2048
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


class HitClassifier(nn.Module):
    """Logit of P(hit_50) from a scaled feature row."""

    def __init__(self, n_features: int, hidden: int):
        super().__init__()
        self.n_features, self.hidden = n_features, hidden
        self.net = nn.Sequential(
            nn.Linear(n_features, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)


def train_classifier(
    features: np.ndarray, labels: np.ndarray, config: BaselineConfig = BaselineConfig()
) -> HitClassifier:
    """Fit on (scaled features, boolean labels) with Adam and binary cross-entropy, minibatches in
    a seeded order. Raises ValueError when the labels hold one class only."""
    labels = np.asarray(labels, dtype=bool)
    if len(features) != len(labels):
        raise ValueError(f"{len(features)} feature rows but {len(labels)} labels")
    if labels.all() or not labels.any():
        raise ValueError("training labels hold a single class: nothing to learn")
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    model = HitClassifier(features.shape[1], config.hidden)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    x = torch.as_tensor(features, dtype=torch.float32)
    y = torch.tensor(labels, dtype=torch.float32)
    loss_fn = nn.BCEWithLogitsLoss()
    model.train()
    for _ in range(config.epochs):
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), config.batch_size):
            batch = order[start : start + config.batch_size]
            optimiser.zero_grad()
            loss = loss_fn(model(x[batch]), y[batch])
            loss.backward()
            optimiser.step()
    model.eval()
    return model


@torch.no_grad()
def predict_proba(model: HitClassifier, features: np.ndarray) -> np.ndarray:
    """P(hit_50) per row."""
    return torch.sigmoid(model(torch.as_tensor(features, dtype=torch.float32))).numpy().astype(float)
