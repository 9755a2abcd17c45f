"""PPO in torch for the batched options-filter env: compact and standard.

Clipped surrogate objective, generalised advantage estimation (GAE), value loss, entropy bonus,
several epochs of shuffled minibatches per rollout, advantage normalisation, gradient clipping.
Seeded: the same data, config and seed give the same weights on CPU; on CUDA when asked for.

Each update (one rollout, then its epochs of minibatches) is recorded as CleanRL's ppo.py records
it: policy loss, value loss, entropy, approx_kl ((ratio - 1) - log ratio, Schulman's low-variance
estimator of KL(old || new)), clip fraction (share of samples whose ratio left [1 - clip, 1 + clip])
and explained variance of the returns by the rollout's values. Losses, entropy, approx_kl and clip
fraction are means over the update's minibatches (CleanRL keeps the last minibatch's losses; the
mean is steadier), each taken from the forward pass the gradient step uses: no extra forward pass,
and one device-to-host copy per update.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from rl_assets.rl_env import BatchedOptionsFilterEnv, CandidateDays, day_start_observations, observation_size


@dataclass(frozen=True)
class PPOConfig:
    n_envs: int = 4096
    n_steps: int = 32  # rollout length per env
    total_steps: int = 2_000_000  # env steps over the whole training
    # One pass over each rollout in small minibatches: as many gradient steps as four passes in
    # minibatches four times larger, a quarter of the compute, the same out-of-sample result
    # (README, "Where PPO's time goes").
    epochs: int = 1
    minibatch_size: int = 4096
    learning_rate: float = 1e-3
    # A pick changes later rewards only through the day's budget; discounting the future away
    # (gamma 0) credits each decision with its own outcome, far less noisy than a 0.99 return over
    # the other candidates' rewards. Measured: with 0.99 the agent found no planted signal in 1M
    # steps, with 0 it did (README).
    gamma: float = 0.0
    gae_lambda: float = 0.95
    clip: float = 0.2
    value_coef: float = 0.5
    entropy_coef: float = 0.01
    max_grad_norm: float = 0.5
    hidden: int = 64
    window_days: int = 5
    budget: int = 5
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


class ActorCritic(nn.Module):
    """Shared trunk; a policy head (logits of skip/take) and a value head. ReLU rather than tanh:
    on CPU tanh and its gradient were a third of the training time, with the same results."""

    def __init__(self, n_observations: int, hidden: int):
        super().__init__()
        self.n_observations, self.hidden = n_observations, hidden
        self.trunk = nn.Sequential(nn.Linear(n_observations, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.policy = nn.Linear(hidden, 2)
        self.value = nn.Linear(hidden, 1)
        nn.init.orthogonal_(self.policy.weight, gain=0.01)
        nn.init.zeros_(self.policy.bias)

    def forward(self, observations: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.trunk(observations)
        return self.policy(hidden), self.value(hidden).squeeze(-1)


@dataclass(frozen=True)
class UpdateDiagnostics:
    """One PPO update, as CleanRL records it (see the module's docstring)."""

    update: int  # 1, 2, ...
    env_steps: int  # env steps collected so far, this update's rollout included
    policy_loss: float
    value_loss: float
    entropy: float  # of the skip/take policy, in nats: 0 (certain) .. ln 2
    approx_kl: float  # >= 0; large values mean the policy moved far from the rollout's
    clip_fraction: float  # in [0, 1]
    explained_variance: float  # <= 1; 1 - Var(returns - values) / Var(returns); NaN if the returns are constant


@dataclass(frozen=True)
class TrainingReport:
    env_steps: int
    seconds: float
    steps_per_second: float
    updates: tuple[UpdateDiagnostics, ...] = ()
    # Where the time went: collecting rollouts (policy forward passes, env steps, GAE) and the
    # gradient updates; the rest of `seconds` is setup and bookkeeping.
    rollout_seconds: float = 0.0
    update_seconds: float = 0.0


_MINIBATCH_STATISTICS = ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction")


def minibatch_step(
    model: ActorCritic, optimiser: torch.optim.Optimizer, batch: dict[str, torch.Tensor], config: PPOConfig
) -> torch.Tensor:
    """One gradient step on a minibatch (obs, action, log_p and advantage of the rollout, return).
    Returns its statistics, in _MINIBATCH_STATISTICS' order, as one tensor on the model's device
    (not copied to the host: that would wait for the device at every minibatch)."""
    logits, value = model(batch["obs"])
    log_p_all = torch.log_softmax(logits, dim=-1)
    log_p = log_p_all.gather(1, batch["action"][:, None]).squeeze(1)
    advantage = batch["advantage"]
    advantage = (advantage - advantage.mean()) / (advantage.std() + 1e-8)
    log_ratio = log_p - batch["log_p"]
    ratio = log_ratio.exp()
    policy_loss = -torch.min(ratio * advantage, ratio.clamp(1 - config.clip, 1 + config.clip) * advantage).mean()
    value_loss = (value - batch["return"]).pow(2).mean()
    entropy = -(log_p_all.exp() * log_p_all).sum(-1).mean()
    loss = policy_loss + config.value_coef * value_loss - config.entropy_coef * entropy
    optimiser.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
    optimiser.step()
    with torch.no_grad():
        approx_kl = ((ratio - 1) - log_ratio).mean()
        clip_fraction = ((ratio - 1).abs() > config.clip).float().mean()
        return torch.stack([policy_loss, value_loss, entropy, approx_kl, clip_fraction]).detach()


def explained_variance(values: torch.Tensor, returns: torch.Tensor) -> torch.Tensor:
    """1 - Var(returns - values) / Var(returns) (population variances, as CleanRL's np.var); NaN
    when the returns are constant."""
    variance = returns.var(correction=0)
    return torch.where(variance > 0, 1 - (returns - values).var(correction=0) / variance, torch.nan)


def train_ppo(
    days: CandidateDays, config: PPOConfig = PPOConfig(), device: str = "cpu"
) -> tuple[ActorCritic, TrainingReport]:
    torch.manual_seed(config.seed)
    env = BatchedOptionsFilterEnv(days, config.n_envs, config.window_days, config.budget, config.seed, device)
    model = ActorCritic(observation_size(days.n_features), config.hidden).to(env.device)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate, eps=1e-5)
    sampler = torch.Generator(device=env.device).manual_seed(config.seed + 1)
    shuffler = torch.Generator().manual_seed(config.seed + 2)
    n, steps = config.n_envs, config.n_steps
    observation = env.reset()
    observations = torch.zeros((steps, n, observation.shape[1]), device=env.device)
    actions = torch.zeros((steps, n), dtype=torch.long, device=env.device)
    log_probs, values, rewards, dones = (torch.zeros((steps, n), device=env.device) for _ in range(4))
    updates = max(1, config.total_steps // (n * steps))
    recorded = []  # per update: the minibatch statistics' sums, the minibatches, explained variance
    started = time.perf_counter()
    rollout_seconds = update_seconds = 0.0
    for _ in range(updates):
        phase = _phase_clock(env.device)
        with torch.no_grad():
            for t in range(steps):
                logits, value = model(observation)
                log_p = torch.log_softmax(logits, dim=-1)
                action = (torch.rand(n, generator=sampler, device=env.device) < log_p[:, 1].exp()).long()
                observations[t], actions[t], values[t] = observation, action, value
                log_probs[t] = log_p.gather(1, action[:, None]).squeeze(1)
                observation, rewards[t], done = env.step(action)
                dones[t] = done.float()
            _, next_value = model(observation)
            advantages = torch.zeros_like(rewards)
            running = torch.zeros(n, device=env.device)
            for t in reversed(range(steps)):
                following = next_value if t == steps - 1 else values[t + 1]
                alive = 1.0 - dones[t]
                delta = rewards[t] + config.gamma * following * alive - values[t]
                running = delta + config.gamma * config.gae_lambda * alive * running
                advantages[t] = running
            returns = advantages + values
        rollout_seconds += phase()
        flat = {
            "obs": observations.reshape(steps * n, -1), "action": actions.reshape(-1), "log_p": log_probs.reshape(-1),
            "advantage": advantages.reshape(-1), "return": returns.reshape(-1),
        }  # fmt: skip
        totals = torch.zeros(len(_MINIBATCH_STATISTICS), device=env.device)
        minibatches = 0
        for _ in range(config.epochs):
            order = torch.randperm(steps * n, generator=shuffler).to(env.device)
            for start in range(0, steps * n, config.minibatch_size):
                batch = order[start : start + config.minibatch_size]
                totals += minibatch_step(model, optimiser, {key: tensor[batch] for key, tensor in flat.items()}, config)
                minibatches += 1
        recorded.append((totals, minibatches, explained_variance(values.reshape(-1), flat["return"])))
        update_seconds += phase()
    seconds = time.perf_counter() - started
    env_steps = updates * n * steps
    model.eval()
    diagnostics = []
    for update, (totals, minibatches, explained) in enumerate(recorded, start=1):
        means = {name: total / minibatches for name, total in zip(_MINIBATCH_STATISTICS, totals.tolist(), strict=True)}
        diagnostics.append(UpdateDiagnostics(update, update * n * steps, **means, explained_variance=float(explained)))
    report = TrainingReport(
        env_steps, seconds, env_steps / seconds, tuple(diagnostics), round(rollout_seconds, 4), round(update_seconds, 4)
    )
    return model.cpu(), report


def _phase_clock(device: torch.device):
    """A stopwatch for the phases of an update: each call returns the seconds since the last one. On
    CUDA it waits for the device first (kernels run asynchronously); that is two waits an update."""
    last = [time.perf_counter()]

    def lap() -> float:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        now = time.perf_counter()
        elapsed, last[0] = now - last[0], now
        return elapsed

    return lap


@torch.no_grad()
def take_probability(model: ActorCritic, features: np.ndarray) -> np.ndarray:
    """P(take) for candidates shown at the start of a day with the full budget: the agent's score."""
    observation = torch.as_tensor(day_start_observations(features), dtype=torch.float32)
    logits, _ = model(observation)
    return torch.softmax(logits, dim=-1)[:, 1].numpy().astype(float)
