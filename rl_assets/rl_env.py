"""The options-filter environment: one gymnasium env and a batched torch twin with the same dynamics.

An episode is a window of `window_days` consecutive trading days of rl_dataset. Each step shows
one candidate contract of the current day (its scaled state features, then the share of the day's
pick budget left and the share of the day's candidates already seen); the action is 0 = skip or
1 = take. Taking while budget is left books the contract's `reward` from rl_dataset (the shared
reward: sql/insert_rl_dataset.sql, rl_assets/reward.py) and spends one pick; taking with no budget
left books nothing. After the day's last candidate the next day starts with a full budget; the
episode ends after the window's last day. Rewards only ever come from T+1..T+3 outcomes of the
candidates shown; the observation holds nothing after T.

`BatchedOptionsFilterEnv` runs many copies at once as tensor gathers (what PPO trains on); a test
checks it step for step against `OptionsFilterEnv`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import pandas as pd
import torch

from rl_assets.features import CLIP, Scaler

ENV_ID = "rl_assets/OptionsFilter-v0"
# The observation: the candidate's scaled state features (the scaler's feature_names: its columns,
# then their missing-indicators), then these context values, both shares in [0, 1]. Every builder of
# observations (both envs, the agent's scoring in rl_assets.ppo) lays them out from here.
CONTEXT_OBSERVATIONS = ("budget_left", "day_progress")


def _context(left, budget, position, count) -> dict:
    """The context values by name (numbers or tensors alike): the share of the day's pick budget
    left and the share of the day's candidates already shown."""
    return {"budget_left": left / budget, "day_progress": position / count}


def _context_array(left, budget, position, count) -> np.ndarray:
    context = _context(left, budget, position, count)
    return np.array([context[name] for name in CONTEXT_OBSERVATIONS], np.float32)


def observation_names(features: Sequence[str]) -> tuple[str, ...]:
    """The observation's entries in order, for a scaler with these feature columns."""
    return (*features, *CONTEXT_OBSERVATIONS)


def observation_size(n_features: int) -> int:
    """The observation's length (the policy's input size) for n_features state features."""
    return n_features + len(CONTEXT_OBSERVATIONS)


def day_start_observations(features: np.ndarray) -> np.ndarray:
    """The observations of candidates (rows of scaled features) each shown first on a day with the
    full budget: how a trained agent scores a day's candidates."""
    values = _context_array(left=1.0, budget=1.0, position=0.0, count=1.0)  # the full budget, nothing shown yet
    return np.concatenate([features, np.tile(values, (len(features), 1))], axis=1).astype(np.float32)


@dataclass(frozen=True)
class CandidateDays:
    """Candidates laid out by day: features [days, slots, F], rewards and hits [days, slots],
    counts [days] (slots beyond a day's count are padding, never shown)."""

    features: np.ndarray
    rewards: np.ndarray
    hits: np.ndarray
    counts: np.ndarray
    dates: list

    @property
    def n_features(self) -> int:
        return self.features.shape[2]


def candidate_days(frame: pd.DataFrame, scaler: Scaler, max_per_day: int, seed: int = 0) -> CandidateDays:
    """Labelled rl_dataset rows as CandidateDays: at most `max_per_day` per day (a seeded sample
    when a day has more), in a seeded random order within the day."""
    if max_per_day < 1:
        raise ValueError(f"max_per_day must be >= 1; got {max_per_day}")
    # Positions, not per-day copies of the frame: only the chosen rows are ever copied and scaled.
    labelled = np.flatnonzero(frame["reward"].notna().to_numpy())
    if len(labelled) == 0:
        raise ValueError("no labelled rl_dataset rows to build episodes from")
    snapshot = frame["snapshot_date"].to_numpy()[labelled]
    by_day = np.argsort(snapshot, kind="stable")  # each day's rows in the frame's order
    order = labelled[by_day]
    dates, starts = np.unique(snapshot[by_day], return_index=True)
    rng = np.random.default_rng(seed)
    chosen = [day_rows[rng.permutation(len(day_rows))[:max_per_day]] for day_rows in np.split(order, starts[1:])]
    counts = np.array([len(c) for c in chosen], np.int64)
    rows = frame.iloc[np.concatenate(chosen)]
    slot = np.concatenate([np.arange(c) for c in counts])
    day = np.repeat(np.arange(len(dates)), counts)
    n_features = scaler.width  # the features, then their missing-indicators
    features = np.zeros((len(dates), max_per_day, n_features), np.float32)
    rewards = np.zeros((len(dates), max_per_day), np.float32)
    hits = np.zeros((len(dates), max_per_day), bool)
    features[day, slot] = scaler.transform(rows)
    rewards[day, slot] = rows["reward"].to_numpy(np.float32)
    hits[day, slot] = rows["hit_50"].astype(bool).to_numpy()
    return CandidateDays(features, rewards, hits, counts, list(dates))


class OptionsFilterEnv(gym.Env):
    """Skip or take each candidate of each day of a window of trading days, within a daily budget."""

    metadata = {"render_modes": []}

    def __init__(self, days: CandidateDays, window_days: int = 5, budget: int = 5):
        if window_days < 1 or window_days > len(days.dates):
            raise ValueError(f"window_days must be in [1, {len(days.dates)}]; got {window_days}")
        if budget < 1:
            raise ValueError(f"budget must be >= 1; got {budget}")
        self.days, self.window_days, self.budget = days, window_days, budget
        size = observation_size(days.n_features)
        # Scaled features are clipped to +-CLIP; budget and progress shares lie in [0, 1].
        self.observation_space = gym.spaces.Box(-CLIP, CLIP, shape=(size,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self._start = self._day = self._position = self._left = 0

    def _obs(self) -> np.ndarray:
        values = _context_array(self._left, self.budget, self._position, self.days.counts[self._day])
        return np.concatenate([self.days.features[self._day, self._position], values]).astype(np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        last_start = len(self.days.dates) - self.window_days
        if options and "start_day" in options:
            start = int(options["start_day"])
            if not 0 <= start <= last_start:
                raise ValueError(f"start_day must be in [0, {last_start}]; got {start}")
        else:
            start = int(self.np_random.integers(0, last_start + 1))
        self._start, self._day, self._position, self._left = start, start, 0, self.budget
        return self._obs(), {"date": str(self.days.dates[start])}

    def step(self, action):
        if not self.action_space.contains(action):
            raise ValueError(f"action must be 0 (skip) or 1 (take); got {action!r}")
        reward = 0.0
        if action == 1 and self._left > 0:
            reward = float(self.days.rewards[self._day, self._position])
            self._left -= 1
        self._position += 1
        terminated = False
        if self._position == self.days.counts[self._day]:
            self._day, self._position, self._left = self._day + 1, 0, self.budget
            terminated = self._day == self._start + self.window_days
        observation = np.zeros(self.observation_space.shape, np.float32) if terminated else self._obs()
        return observation, reward, terminated, False, {}


class BatchedOptionsFilterEnv:
    """`n_envs` copies of OptionsFilterEnv stepped together with tensor gathers; finished episodes
    restart at once on a new random window (the returned observation is then the new episode's
    first, as vectorised envs do)."""

    def __init__(
        self, days: CandidateDays, n_envs: int, window_days: int = 5, budget: int = 5, seed: int = 0, device="cpu"
    ):
        if window_days < 1 or window_days > len(days.dates):
            raise ValueError(f"window_days must be in [1, {len(days.dates)}]; got {window_days}")
        self.device = torch.device(device)
        self.n_envs, self.window_days, self.budget = n_envs, window_days, budget
        self.features = torch.as_tensor(days.features, device=self.device)
        self.rewards = torch.as_tensor(days.rewards, device=self.device)
        self.counts = torch.as_tensor(days.counts, device=self.device)
        self.n_days, self.n_features = days.features.shape[0], days.n_features
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        self.start = torch.zeros(n_envs, dtype=torch.long, device=self.device)
        self.day = torch.zeros_like(self.start)
        self.position = torch.zeros_like(self.start)
        self.left = torch.zeros_like(self.start)

    def _random_starts(self, n: int) -> torch.Tensor:
        return torch.randint(0, self.n_days - self.window_days + 1, (n,), generator=self.generator, device=self.device)

    def observe(self) -> torch.Tensor:
        features = self.features[self.day, self.position]
        context = _context(self.left.float(), self.budget, self.position.float(), self.counts[self.day].float())
        return torch.cat([features, torch.stack([context[name] for name in CONTEXT_OBSERVATIONS], dim=1)], dim=1)

    def reset(self, start_days: torch.Tensor | None = None) -> torch.Tensor:
        start = (
            self._random_starts(self.n_envs) if start_days is None else torch.as_tensor(start_days, device=self.device)
        )
        self.start, self.day = start.clone(), start.clone()
        self.position = torch.zeros_like(start)
        self.left = torch.full_like(start, self.budget)
        return self.observe()

    def step(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(next observations, rewards, episode ended) for every env."""
        take = (actions == 1) & (self.left > 0)
        rewards = torch.where(take, self.rewards[self.day, self.position], torch.zeros((), device=self.device))
        self.left = self.left - take.long()
        self.position = self.position + 1
        day_over = self.position == self.counts[self.day]
        self.day = self.day + day_over.long()
        self.position = torch.where(day_over, torch.zeros_like(self.position), self.position)
        self.left = torch.where(day_over, torch.full_like(self.left, self.budget), self.left)
        done = day_over & (self.day == self.start + self.window_days)
        if done.any():
            fresh = self._random_starts(self.n_envs)
            self.start = torch.where(done, fresh, self.start)
            self.day = torch.where(done, fresh, self.day)
        return self.observe(), rewards, done


if ENV_ID not in gym.registry:
    gym.register(id=ENV_ID, entry_point="rl_assets.rl_env:OptionsFilterEnv")
