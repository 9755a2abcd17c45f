"""The models: gymnasium's env checker, the batched torch env step for step against the gymnasium
one, the model store and registry (round trip bit for bit, the usable_from rule), reproducibility,
skill on the planted-signal market and none on the null market, and the two assets end to end."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import gymnasium as gym
import matplotlib.image
import numpy as np
import pandas as pd
import pytest
import torch
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from rl_assets import calendar, ppo, reporting
from rl_assets.baseline import BaselineConfig, HitClassifier, predict_proba, train_classifier
from rl_assets.defs import sensors
from rl_assets.defs.assets.models import TrainingConfig
from rl_assets.defs.resources import ModelStore, Warehouse
from rl_assets.features import STATE_FEATURES, Scaler
from rl_assets.model_store import (
    MODEL_NAMES,
    PPO_AGENT,
    ArtifactError,
    load_artifact,
    load_version,
    register,
    save_artifact,
    usable_from,
    usable_version,
    versions,
)
from rl_assets.ppo import ActorCritic, PPOConfig, explained_variance, minibatch_step, take_probability, train_ppo
from rl_assets.retraining import ModelVersionState
from rl_assets.rl_env import ENV_ID, BatchedOptionsFilterEnv, OptionsFilterEnv, candidate_days
from rl_assets.schema import CONTRACT_FEATURES
from rl_assets.training import (
    EvaluationConfig,
    folds_for,
    out_of_sample,
    pick_difference,
    pick_metrics,
    score_baseline,
    score_ppo,
)
from rl_assets.warehouse.duckdb_backend import DuckDBBackend, open_duckdb
from rl_assets_tests.code_location import baseline_model, ppo_agent

SMALL_PPO = PPOConfig(n_envs=256, n_steps=32, total_steps=300_000, minibatch_size=1024)


def _labelled(market: dict) -> pd.DataFrame:
    frame = market["dataset"]
    frame = frame[frame["reward"].notna()].copy()
    frame["label_end_date"] = pd.to_datetime(frame["label_end_date"]).dt.date
    return frame


@pytest.fixture(scope="module")
def episode_days(null_market):
    frame = _labelled(null_market)
    first = sorted(frame["snapshot_date"].unique())[:30]
    frame = frame[frame["snapshot_date"].isin(first)]
    return candidate_days(frame, Scaler.fit(frame), max_per_day=12, seed=1)


# ---- environments -------------------------------------------------------------------------------


def test_env_passes_gymnasiums_checker_and_is_registered(episode_days):
    env = OptionsFilterEnv(episode_days, window_days=3, budget=2)
    check_env(env, skip_render_check=True)
    sb3_check_env(OptionsFilterEnv(episode_days, window_days=3, budget=2), warn=True)  # the reference PPO's own checker
    made = gym.make(ENV_ID, days=episode_days, window_days=3, budget=2)
    observation, info = made.reset(seed=3)
    assert observation.shape == (len(STATE_FEATURES) + 2,) and "date" in info
    with pytest.raises(ValueError, match="action must be 0"):
        env.reset(seed=0)
        env.step(2)
    with pytest.raises(ValueError, match="window_days must be in"):
        OptionsFilterEnv(episode_days, window_days=1000)


def test_an_episode_books_rewards_within_the_daily_budget(episode_days):
    env = OptionsFilterEnv(episode_days, window_days=2, budget=2)
    env.reset(options={"start_day": 4})
    total, steps, terminated = 0.0, 0, False
    while not terminated:
        _, reward, terminated, truncated, _ = env.step(1)  # take everything: only 2 a day count
        total, steps = total + reward, steps + 1
        assert not truncated
    counts = episode_days.counts[4:6]
    assert steps == counts.sum()
    expected = episode_days.rewards[4, :2].sum() + episode_days.rewards[5, :2].sum()
    assert total == pytest.approx(float(expected), rel=1e-6)


def test_batched_env_matches_the_gymnasium_env_step_for_step(episode_days):
    starts = [0, 7, 20]
    batched = BatchedOptionsFilterEnv(episode_days, n_envs=len(starts), window_days=3, budget=2, seed=0)
    singles = [OptionsFilterEnv(episode_days, window_days=3, budget=2) for _ in starts]
    observations = batched.reset(torch.tensor(starts))
    expected = [env.reset(options={"start_day": s})[0] for env, s in zip(singles, starts, strict=True)]
    np.testing.assert_array_equal(observations.numpy(), np.stack(expected))
    rng = np.random.default_rng(0)
    finished = [False] * len(starts)
    for _ in range(int(episode_days.counts[:23].max()) * 3 + 5):
        actions = rng.integers(0, 2, len(starts))
        observations, rewards, done = batched.step(torch.as_tensor(actions))
        for i, env in enumerate(singles):
            if finished[i]:
                continue
            observation, reward, terminated, _, _ = env.step(int(actions[i]))
            assert rewards[i].item() == pytest.approx(reward, abs=0), (i, "reward")
            assert bool(done[i]) == terminated
            if terminated:
                finished[i] = True  # the batched env restarts on a random window; the single one stops
            else:
                np.testing.assert_array_equal(observations[i].numpy(), observation)
    assert all(finished)


# ---- model store and registry --------------------------------------------------------------------


def test_registry_round_trip_and_the_usable_from_rule(warehouse, tmp_path, episode_days):
    features = np.random.default_rng(0).normal(size=(400, 5)).astype(np.float32)
    labels = features[:, 0] > 0.5
    model = train_classifier(features, labels, BaselineConfig(epochs=2))
    payload = {"kind": "hit_classifier", "state_dict": model.state_dict(), "n_features": 5, "hidden": model.hidden}
    assert usable_from([dt.date(2025, 7, 2), dt.date(2025, 7, 3)]) == dt.date(2025, 7, 7)  # after the holiday
    first = register(
        warehouse, location=str(tmp_path), model_name="baseline_model", payload=payload,
        train_start=dt.date(2025, 6, 2), train_end=dt.date(2025, 6, 30), usable_from=dt.date(2025, 7, 7),
        metrics={"auc": 0.6},
    )  # fmt: skip
    second = register(
        warehouse, location=str(tmp_path), model_name="baseline_model", payload=payload,
        train_start=dt.date(2025, 6, 2), train_end=dt.date(2025, 7, 31), usable_from=dt.date(2025, 8, 6),
        metrics={"auc": 0.7},
    )  # fmt: skip
    assert (first.version, second.version) == (1, 2)
    assert [v.version for v in versions(warehouse, "baseline_model")] == [2, 1]
    assert usable_version(warehouse, "baseline_model", dt.date(2025, 7, 3)) is None
    assert usable_version(warehouse, "baseline_model", dt.date(2025, 7, 7)).version == 1
    assert usable_version(warehouse, "baseline_model", dt.date(2025, 8, 5)).version == 1
    assert usable_version(warehouse, "baseline_model", dt.date(2025, 8, 6)).version == 2
    assert usable_version(warehouse, "baseline_model", dt.date(2025, 8, 6)).metrics == {"auc": 0.7}
    loaded = load_artifact(second.artifact_uri)
    restored = HitClassifier(loaded["n_features"], loaded["hidden"])
    restored.load_state_dict(loaded["state_dict"])
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, restored.state_dict()[name]), name
    np.testing.assert_array_equal(predict_proba(restored, features), predict_proba(model, features))
    with pytest.raises(ValueError, match="usable_from .* must be after the last training day"):
        register(
            warehouse, location=str(tmp_path), model_name="baseline_model", payload=payload,
            train_start=dt.date(2025, 6, 2), train_end=dt.date(2025, 8, 6), usable_from=dt.date(2025, 8, 6), metrics={},
        )  # fmt: skip
    with pytest.raises(ValueError, match="invalid model name"):
        register(
            warehouse, location=str(tmp_path), model_name="../evil", payload=payload,
            train_start=dt.date(2025, 6, 2), train_end=dt.date(2025, 6, 3), usable_from=dt.date(2025, 6, 5), metrics={},
        )  # fmt: skip
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_artifact(str(tmp_path / "nope.pt"))


def _small_payloads() -> dict[str, dict]:
    """A hit classifier and a PPO actor-critic (tiny, real torch modules), as training stores them."""
    features = np.random.default_rng(0).normal(size=(200, 5)).astype(np.float32)
    classifier = train_classifier(features, features[:, 0] > 0.5, BaselineConfig(epochs=1))
    agent = ActorCritic(7, 8)
    return {
        "baseline_model": {"kind": "hit_classifier", "state_dict": classifier.state_dict(), "n_features": 5,
                           "hidden": classifier.hidden},
        "ppo_agent": {"kind": "ppo_actor_critic", "state_dict": agent.state_dict(), "n_observations": 7, "hidden": 8},
    }  # fmt: skip


WINDOW = {"train_start": dt.date(2025, 6, 2), "train_end": dt.date(2025, 6, 30), "usable_from": dt.date(2025, 7, 7)}


def _register(wh, location, model_name: str, payload: dict | None = None, **window):
    return register(
        wh, location=str(location), model_name=model_name, payload=payload or _small_payloads()[model_name],
        metrics={}, **{**WINDOW, **window},
    )  # fmt: skip


def _files(location) -> set[str]:
    return {str(p) for p in Path(location).rglob("*") if p.is_file()}


def test_two_warehouses_sharing_one_store_both_register_v1(warehouse, tmp_path):
    """A fresh warehouse (after `make clean`, which keeps data/models) or a second
    RL_ASSETS_DUCKDB_PATH numbers its versions from 1 again; the store holds the other's v1 and
    an artifact of the old naming (v1.pt). Each gets a file of its own; nothing is overwritten."""
    store = tmp_path / "models"
    legacy = store / "baseline_model" / "v1.pt"
    legacy.parent.mkdir(parents=True)
    legacy.write_bytes(b"an artifact of an earlier warehouse")
    with open_duckdb(str(tmp_path / "other.duckdb"), "rl_test") as other:
        other.ensure_tables()
        theirs = _register(other, store, "baseline_model")
        ours = _register(warehouse, store, "baseline_model")
        assert (theirs.version, ours.version) == (1, 1)
        assert theirs.artifact_uri != ours.artifact_uri
        assert _files(store) == {str(legacy), theirs.artifact_uri, ours.artifact_uri}
        assert legacy.read_bytes() == b"an artifact of an earlier warehouse"
        assert Path(ours.artifact_uri).name.startswith("v1-")
        for wh, version in ((warehouse, ours), (other, theirs)):
            (registered,) = versions(wh, "baseline_model")
            assert registered.artifact_uri == version.artifact_uri
            artifact = load_version(registered, "hit_classifier")
            assert (artifact["model_name"], artifact["version"]) == ("baseline_model", 1)
    with pytest.raises(FileExistsError, match="never overwritten"):
        save_artifact(ours.artifact_uri, {"kind": "hit_classifier"})


def test_a_registration_that_dies_after_saving_leaves_a_harmless_orphan(warehouse, tmp_path):
    """The artifact is saved, then the registry write fails (here: a read-only copy of the
    warehouse): the file is an orphan, in no registry row. It blocks no later version, and is
    never overwritten."""
    store = tmp_path / "models"
    path = str(tmp_path / "read_only.duckdb")
    read_only = DuckDBBackend(duckdb.connect(path), "rl_test")
    read_only.ensure_tables()
    read_only.connection.close()
    read_only.connection = duckdb.connect(path, read_only=True)  # reads work; the registry write fails
    try:
        with pytest.raises(duckdb.Error, match="read-only"):
            _register(read_only, store, "ppo_agent")
    finally:
        read_only.connection.close()
    (orphan,) = _files(store)
    orphan_bytes = Path(orphan).read_bytes()
    first = _register(warehouse, store, "ppo_agent")
    second = _register(warehouse, store, "ppo_agent", train_end=dt.date(2025, 7, 31), usable_from=dt.date(2025, 8, 6))
    assert (first.version, second.version) == (1, 2)
    registered = {v.artifact_uri for v in versions(warehouse, "ppo_agent")}
    assert registered == {first.artifact_uri, second.artifact_uri}
    assert _files(store) - registered == {orphan}  # orphans: files no registry row names
    assert Path(orphan).read_bytes() == orphan_bytes


def test_a_registry_row_pointing_at_another_models_artifact_is_refused(warehouse, tmp_path):
    """baseline_model v2 registered with ppo_agent's file (a hand edit, a copied registry): loading
    it names both and refuses; so does an artifact of the wrong kind, one of no stated identity
    outside its own path, and a missing file; an artifact of the old naming loads by its path."""
    store = tmp_path / "models"
    baseline = _register(warehouse, store, "baseline_model")
    ppo = _register(warehouse, store, "ppo_agent")
    warehouse.execute(
        "insert_model_registry",
        {
            "model_name": "baseline_model", "version": 2, "trained_at": pd.Timestamp.now(tz="UTC").to_pydatetime(),
            "train_start": dt.date(2025, 6, 2), "train_end": dt.date(2025, 7, 31), "usable_from": dt.date(2025, 8, 6),
            "metrics": "{}", "artifact_uri": ppo.artifact_uri,
        },
    )  # fmt: skip
    pointing_elsewhere = usable_version(warehouse, "baseline_model", dt.date(2025, 8, 6))
    assert pointing_elsewhere.version == 2
    with pytest.raises(ArtifactError) as refused:
        load_version(pointing_elsewhere, "hit_classifier")
    assert str(refused.value) == (
        f"baseline_model v2 (artifact {ppo.artifact_uri}): the registry row is baseline_model v2 but the artifact "
        "holds ppo_agent v1: refusing another model's weights"
    )
    load_version(baseline, "hit_classifier")  # the right row loads
    wrong_kind = _register(  # PPO weights registered under the baseline's name
        warehouse, store, "baseline_model", _small_payloads()["ppo_agent"], train_end=dt.date(2025, 8, 29),
        usable_from=dt.date(2025, 9, 4),
    )  # fmt: skip
    with pytest.raises(ArtifactError, match=r"baseline_model v3 .*holds a 'ppo_actor_critic' model; .*needs"):
        load_version(wrong_kind, "hit_classifier")
    # Artifacts written before they carried an identity: v<version>.pt under the model's folder.
    legacy = store / "baseline_model" / "v4.pt"
    torch.save(_small_payloads()["baseline_model"], legacy)
    elsewhere = store / "ppo_agent" / "v4.pt"
    shutil.copy(legacy, elsewhere)
    legacy_version = dataclasses.replace(baseline, version=4, artifact_uri=str(legacy))
    assert load_version(legacy_version, "hit_classifier")["kind"] == "hit_classifier"
    misplaced = dataclasses.replace(legacy_version, artifact_uri=str(elsewhere))
    with pytest.raises(ArtifactError, match="does not say which model it holds"):
        load_version(misplaced)
    Path(baseline.artifact_uri).unlink()
    with pytest.raises(ArtifactError) as missing:
        load_version(baseline)
    assert str(missing.value).startswith(f"baseline_model v1 (artifact {baseline.artifact_uri}): cannot be loaded: ")


# ---- reproducibility ------------------------------------------------------------------------------


def test_same_seed_same_models_and_another_seed_differs(episode_days):
    features = np.random.default_rng(1).normal(size=(1000, 6)).astype(np.float32)
    labels = features[:, 1] + 0.3 * features[:, 2] > 0.8
    a, b = (train_classifier(features, labels, BaselineConfig(epochs=2, seed=5)) for _ in range(2))
    c = train_classifier(features, labels, BaselineConfig(epochs=2, seed=6))
    assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())
    assert not all(torch.equal(a.state_dict()[k], c.state_dict()[k]) for k in a.state_dict())
    config = PPOConfig(n_envs=64, n_steps=16, total_steps=8192, minibatch_size=512, window_days=3, budget=2, seed=4)
    (p, _), (q, _) = train_ppo(episode_days, config), train_ppo(episode_days, config)
    r, _ = train_ppo(episode_days, PPOConfig(**{**config.to_dict(), "seed": 9}))
    assert all(torch.equal(p.state_dict()[k], q.state_dict()[k]) for k in p.state_dict())
    assert not all(torch.equal(p.state_dict()[k], r.state_dict()[k]) for k in p.state_dict())
    with pytest.raises(ValueError, match="single class"):
        train_classifier(features, np.zeros(len(features), bool))


# ---- PPO's per-update diagnostics ---------------------------------------------------------------------


def test_ppo_records_cleanrls_diagnostics_for_every_update_and_they_render(episode_days):
    config = PPOConfig(n_envs=64, n_steps=16, total_steps=8192, minibatch_size=256, window_days=3, budget=2, seed=4)
    _, report = train_ppo(episode_days, config)
    updates = report.updates
    assert [u.update for u in updates] == list(range(1, 9))
    assert [u.env_steps for u in updates] == [1024 * i for i in range(1, 9)]
    assert updates[-1].env_steps == report.env_steps
    for u in updates:
        values = dataclasses.asdict(u)
        assert all(np.isfinite(v) for v in values.values()), values
        assert 0 <= u.entropy <= np.log(2) + 1e-6, values
        assert 0 <= u.clip_fraction <= 1 and u.approx_kl >= -1e-7 and u.explained_variance <= 1, values
        assert u.value_loss >= 0, values
    # Four epochs of minibatches move the policy away from the rollout's: some KL, some clipping.
    assert any(u.approx_kl > 0 for u in updates) and any(u.clip_fraction > 0 for u in updates)
    png = reporting.training_curve_plot(updates)
    image = matplotlib.image.imread(io.BytesIO(png), format="png")
    assert png.startswith(b"\x89PNG") and image.shape[0] > 100 and image.shape[1] > 100
    table = reporting.training_table(updates, rows=4)
    assert table.splitlines()[0].startswith("| update | env steps | policy_loss |")
    assert [line.split(" | ")[0] for line in table.splitlines()[2:]] == ["| 1", "| 3", "| 6", "| 8"]


def test_ppo_diagnostics_are_taken_against_the_rollouts_own_policy(episode_days):
    """One epoch of one minibatch: the gradient step's forward pass runs the weights that made the
    rollout, so the ratio is 1 (approx_kl 0, nothing clipped): the recorded old log-probabilities
    line up with the minibatch's samples."""
    config = PPOConfig(
        n_envs=64, n_steps=16, total_steps=3072, epochs=1, minibatch_size=1024, window_days=3, budget=2, seed=4
    )
    _, report = train_ppo(episode_days, config)
    assert len(report.updates) == 3
    for u in report.updates:
        assert abs(u.approx_kl) < 1e-6 and u.clip_fraction == 0, u


def test_approx_kl_and_clip_fraction_match_an_independent_recomputation_on_one_minibatch():
    """minibatch_step's approx_kl against numpy on the same log-probabilities (SB3 and CleanRL both
    compute mean((ratio - 1) - log ratio)), and against the exact KL(old || new) of the two
    skip/take distributions, which that estimator approximates on actions drawn from the old policy."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    old, new = ActorCritic(7, 16), ActorCritic(7, 16)
    with torch.no_grad():
        new.load_state_dict(old.state_dict())
        new.policy.weight.add_(0.4 * torch.randn_like(new.policy.weight))  # a policy some way from the old one
    observations = torch.as_tensor(rng.normal(size=(20_000, 7)), dtype=torch.float32)
    with torch.no_grad():
        old_log_p_all = torch.log_softmax(old(observations)[0], dim=-1).numpy().astype(float)
        new_log_p_all = torch.log_softmax(new(observations)[0], dim=-1).numpy().astype(float)
    actions = (rng.random(len(observations)) < np.exp(old_log_p_all[:, 1])).astype(np.int64)
    batch = {
        "obs": observations, "action": torch.as_tensor(actions),
        "log_p": torch.as_tensor(old_log_p_all[np.arange(len(actions)), actions], dtype=torch.float32),
        "advantage": torch.as_tensor(rng.normal(size=len(actions)), dtype=torch.float32),
        "return": torch.as_tensor(rng.normal(size=len(actions)), dtype=torch.float32),
    }  # fmt: skip
    optimiser = torch.optim.Adam(new.parameters(), lr=1e-3)
    statistics = dict(
        zip(ppo._MINIBATCH_STATISTICS, minibatch_step(new, optimiser, batch, PPOConfig()).tolist(), strict=True)
    )
    log_ratio = new_log_p_all[np.arange(len(actions)), actions] - old_log_p_all[np.arange(len(actions)), actions]
    assert statistics["approx_kl"] == pytest.approx(np.mean(np.expm1(log_ratio) - log_ratio), rel=1e-4)
    assert statistics["clip_fraction"] == pytest.approx(np.mean(np.abs(np.expm1(log_ratio)) > 0.2), abs=1e-6)
    assert statistics["entropy"] == pytest.approx(-(np.exp(new_log_p_all) * new_log_p_all).sum(1).mean(), rel=1e-4)
    exact = (np.exp(old_log_p_all) * (old_log_p_all - new_log_p_all)).sum(1).mean()
    assert exact > 0.01 and statistics["approx_kl"] == pytest.approx(exact, rel=0.1)
    returns = rng.normal(size=1000)
    values = returns + 0.5 * rng.normal(size=1000)
    expected = 1 - np.var(returns - values) / np.var(returns)
    assert float(explained_variance(torch.as_tensor(values), torch.as_tensor(returns))) == pytest.approx(expected)
    assert np.isnan(float(explained_variance(torch.ones(5), torch.full((5,), 2.0))))


# ---- skill where it is planted, none where it is not -------------------------------------------------


def _scored(market: dict) -> pd.DataFrame:
    frame = _labelled(market)
    evaluation = EvaluationConfig(n_folds=3, min_train_dates=100, baseline=BaselineConfig(epochs=4), ppo=SMALL_PPO)
    scorers = {
        "baseline": score_baseline(evaluation.baseline),
        "contract_only": score_baseline(evaluation.baseline, CONTRACT_FEATURES),
        "ppo": score_ppo(evaluation.ppo, 64),
        "ppo_contract_only": score_ppo(evaluation.ppo, 64, CONTRACT_FEATURES),
    }
    return out_of_sample(frame, folds_for(frame, evaluation), scorers)


@pytest.fixture(scope="module")
def planted_scores(planted_market):
    return _scored(planted_market)


@pytest.fixture(scope="module")
def null_scores(null_market):
    return _scored(null_market)


def test_on_the_planted_market_both_models_beat_the_base_rate_and_the_contract_only_model(planted_scores):
    metrics = pick_metrics(planted_scores, ["baseline", "contract_only", "ppo"])
    base, everyone = metrics["base_rate"], metrics["all_candidates_mean_reward"]
    baseline, ppo = metrics["baseline"]["top_5"], metrics["ppo"]["top_5"]
    assert baseline["hit_rate"]["low"] > base["high"], metrics
    assert pick_difference(planted_scores, "baseline", "contract_only", 5)["low"] > 0
    assert metrics["baseline"]["auc_hit_50"]["low"] > 0.5
    # PPO maximises the reward, not the hit rate: its picks earn more than every candidate's mean,
    # and more than an agent that sees the contract alone.
    assert ppo["mean_reward"]["low"] > everyone["high"], metrics
    assert pick_difference(planted_scores, "ppo", "ppo_contract_only", 5, "reward")["low"] > 0


def test_on_the_null_market_neither_model_beats_what_the_contract_alone_explains(null_scores):
    """hit_50 is predictable from the contract even on a martingale (cheap, short-dated options
    reach +50% more often), and so is the reward (spreads, decay): skill is lift over the same
    model given the contract's own features only, and there is none."""
    baseline_lift = pick_difference(null_scores, "baseline", "contract_only", 5)
    assert baseline_lift["low"] <= 0 <= baseline_lift["high"], baseline_lift
    ppo_lift = pick_difference(null_scores, "ppo", "ppo_contract_only", 5, "reward")
    assert ppo_lift["low"] <= 0 <= ppo_lift["high"], ppo_lift


# ---- the assets ---------------------------------------------------------------------------------------


def test_assets_train_evaluate_and_register_versions(null_market, tmp_path):
    path = str(tmp_path / "warehouse.duckdb")
    shutil.copy(null_market["path"], path)  # the session's market stays as the pipeline built it
    resources = {
        "warehouse": Warehouse(duckdb_path=path, dataset="rl_test"),
        "model_store": ModelStore(location=str(tmp_path / "models")),
    }
    config = {"ops": {name: {"config": {"ppo_total_steps": 100_000, "min_train_dates": 150}} for name in MODEL_NAMES}}
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([baseline_model, ppo_agent], resources=resources, run_config=config, instance=instance)
    assert result.success
    last_label_end = max(pd.to_datetime(null_market["dataset"]["label_end_date"]).dt.date)
    last_snapshot = max(null_market["dataset"]["snapshot_date"])
    first_snapshot = min(null_market["dataset"]["snapshot_date"])
    for name in MODEL_NAMES:
        (event,) = result.asset_materializations_for_node(name)
        metadata = {k: v.value for k, v in event.metadata.items()}
        assert metadata["version"] == 1
        # The train window's ends have keys of their own (ISO dates); train_window is for people.
        assert (metadata["train_start"], metadata["train_end"]) == (str(first_snapshot), str(last_snapshot))
        assert metadata["train_window"] == f"{first_snapshot} .. {last_snapshot}"
        assert metadata["usable_from"] == str(calendar.shift_trading_days(last_label_end, 1))
        # The retraining sensor reads the current version from this materialisation.
        assert sensors.model_state(sensors.latest_materialization(instance, dg.AssetKey(name))) == ModelVersionState(
            version=1, train_end=last_snapshot, usable_from=calendar.shift_trading_days(last_label_end, 1)
        )
        assert "data:image/png;base64," in metadata["out_of_sample"]
        assert metadata["artifact_uri"].startswith(str(tmp_path / "models" / name / "v1-"))
        assert Path(metadata["artifact_uri"]).exists()
    # PPO's per-update diagnostics of the final training, and their curves.
    (event,) = result.asset_materializations_for_node(PPO_AGENT.name)
    updates = event.metadata["training_updates"].value
    steps = event.metadata["metrics"].value["training"]["env_steps"]
    assert len(updates) == steps // (PPOConfig().n_envs * PPOConfig().n_steps) and updates[-1]["env_steps"] == steps
    assert all(0 <= u["clip_fraction"] <= 1 and u["entropy"] >= 0 and u["explained_variance"] <= 1 for u in updates)
    assert "data:image/png;base64," in event.metadata["training_curve"].value
    with open_duckdb(path, "rl_test") as wh:
        assert [v.version for v in versions(wh, "ppo_agent")] == [1]
        artifact = load_artifact(versions(wh, "ppo_agent")[0].artifact_uri)
    agent = ActorCritic(artifact["n_observations"], artifact["hidden"])
    agent.load_state_dict(artifact["state_dict"])
    scaler = Scaler.from_dict(artifact["scaler"])
    scores = take_probability(agent, scaler.transform(null_market["dataset"].head(50)))
    assert scores.shape == (50,) and ((scores >= 0) & (scores <= 1)).all()
    assert TrainingConfig().n_folds == 3
