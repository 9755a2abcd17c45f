"""Modules agree through declarations, not retyped strings: the asset checks Dagster sees are the
rules rl_assets.quality declares (and every outcome names one of its asset's); the observation
layout of rl_assets.rl_env is what both envs build and what the agent is sized and scored by; the
exit reasons the SQL writes and counts are rl_assets.reward's."""

from __future__ import annotations

import datetime as dt
import warnings

import dagster as dg
import numpy as np
import pandas as pd
import pytest
import torch
from sqlglot import exp

from rl_assets import calendar, quality
from rl_assets.defs.checks import BLOCKS, LATEST_SESSION_LANDED, check_result
from rl_assets.ppo import ActorCritic, PPOConfig, take_probability, train_ppo
from rl_assets.reward import EXIT_REASONS, ExitReason, resolve
from rl_assets.rl_env import (
    CONTEXT_OBSERVATIONS,
    BatchedOptionsFilterEnv,
    CandidateDays,
    OptionsFilterEnv,
    day_start_observations,
    observation_names,
    observation_size,
)
from rl_assets.warehouse.sql import parse_statement
from rl_assets_tests.code_location import DEFS

# ---- Asset checks: declared once in quality.py, the specs derived from the declarations


def _dagster_specs() -> dict[tuple[str, str], dg.AssetCheckSpec]:
    """Every check spec of the default code location, data checks and the assets' own, by (asset, name)."""
    specs = [spec for checks in DEFS.asset_checks for spec in checks.check_specs]
    specs += [spec for assets in DEFS.assets for spec in assets.check_specs]
    keyed = {(spec.asset_key.to_user_string(), spec.name): spec for spec in specs}
    assert len(keyed) == len(specs), "a check declared twice for one asset"
    return keyed


def test_the_check_specs_dagster_sees_are_the_declared_rules():
    specs = _dagster_specs()
    freshness = {key: spec for key, spec in specs.items() if key[1] == LATEST_SESSION_LANDED.name}
    declared = {(asset, rule.name): rule for asset, rules in quality.RULES.items() for rule in rules}
    assert sum(len(rules) for rules in quality.RULES.values()) == len(declared), "a rule listed twice for one asset"
    assert set(specs) - set(freshness) == set(declared)
    for key, rule in declared.items():
        assert specs[key].description == rule.description + (BLOCKS if rule.blocking else ""), key
        assert specs[key].blocking == rule.blocking, key
    assert freshness and all(
        spec.description == LATEST_SESSION_LANDED.description and not spec.blocking for spec in freshness.values()
    )


D1, D2 = dt.date(2025, 7, 7), dt.date(2025, 7, 8)
DAYS = [D1, D2]


def _per_day(column: str, **counts: int) -> pd.DataFrame:
    return pd.DataFrame({column: pd.to_datetime(DAYS), **{name: [n, n] for name, n in counts.items()}})


def _outcomes_by_asset(bad: int) -> dict[str, list[quality.CheckOutcome]]:
    """Every outcome function of quality.py on two days, each count `bad` (0: all pass)."""
    members = pd.DataFrame({"day": pd.to_datetime([D1, D2]), "name": ["AAA", "AAA"]})
    label_end = {day: calendar.shift_trading_days(day, 3) for day in DAYS}
    dataset = _per_day(
        "snapshot_date", state_rows=10, row_count=10 + bad, labelled=10 - 5 * bad, hits=3, duplicate_keys=bad,
        stamped_after_snapshot=bad, labels_outside_window=bad,
    ).assign(
        first_label_end=[pd.Timestamp(label_end[d]) for d in DAYS],
        last_label_end=[pd.Timestamp(label_end[d]) for d in DAYS],
    )  # fmt: skip
    compared = pd.DataFrame(
        {"date": pd.to_datetime(DAYS), "compared": [1, 1], "mismatched": [bad, bad], "largest_gap": [0.5 * bad] * 2,
         "example_ticker": ["AAA", "AAA"]}
    )  # fmt: skip
    skipped_model = {"model_name": "ppo_agent", "version": 1, "artifact_uri": "x", "reason": "gone", "days": [str(D1)]}
    return {
        "options_chain_history": quality.options_chain_history_outcomes(
            _per_day(
                "snapshot_date",
                duplicate_keys=bad,
                crossed_quotes=bad,
                negative_prices=bad,
                missing_quotes=bad,
                expired_before_snapshot=bad,
                iv_out_of_range=bad,
                bad_delta=bad,
                missing_greeks=bad,
                **{f"missing_{column}": bad for column in quality.GREEK_COLUMNS},
                ask_below_intrinsic=bad,
                placeholder_iv=bad,
            ),
            members.rename(columns={"day": "snapshot_date", "name": "underlying"}),
            pd.DataFrame(
                {
                    "snapshot_date": pd.to_datetime([calendar.shift_trading_days(D1, -1), *DAYS]),
                    "row_count": [100, 100, 100 // (1 + bad)],
                }
            ),
            {day: ["AAA", "BBB"] if bad else ["AAA"] for day in DAYS},
            DAYS,
        ),  # fmt: skip
        "price_data": [
            *quality.price_data_outcomes(
                _per_day("date", duplicate_keys=bad, negative_prices=bad, missing_values=bad, inconsistent_bars=bad),
                members.rename(columns={"day": "date", "name": "ticker"}),
                {day: ["AAA", "BBB"] if bad else ["AAA"] for day in DAYS},
                DAYS,
            ),
            quality.close_matches_chain_outcome(compared, DAYS),
        ],
        "technicals_history": [quality.every_ticker_computed_outcome({"BBB": "high below low"} if bad else {})],
        "rl_state": quality.rl_state_outcomes(
            _per_day("snapshot_date", duplicate_keys=bad, not_candidates=bad, stamped_after_snapshot=bad),
            _per_day("snapshot_date", candidates_without_technicals=bad),
            DAYS,
        ),
        "rl_dataset": quality.rl_dataset_outcomes(dataset, label_end, DAYS),
        "paper_trades": [quality.every_model_loaded_outcome([skipped_model] if bad else [])],
    }


@pytest.mark.parametrize("bad", [0, 1], ids=["passing", "failing"])
def test_every_outcome_names_a_declared_check_of_its_asset(bad):
    for asset, outcomes in _outcomes_by_asset(bad).items():
        assert len(outcomes) == len(quality.RULES[asset]), asset
        assert {o.rule for o in outcomes} == set(quality.RULES[asset]), asset  # every declared rule evaluated
        for outcome in outcomes:
            assert outcome.passed == (not bad), (asset, outcome.name, outcome.description)
            result = check_result(outcome, dg.AssetKey(asset))
            assert result.check_name == outcome.rule.name
            expected = dg.AssetCheckSeverity.WARN if outcome.rule.warn_only else dg.AssetCheckSeverity.ERROR
            assert result.severity == expected, (asset, outcome.name)


# ---- The observation layout: one place in rl_env.py

N_FEATURES = 3


@pytest.fixture(scope="module")
def days() -> CandidateDays:
    """Four days of 2-4 random candidates (features, rewards, hits), padding beyond each count."""
    rng = np.random.default_rng(5)
    counts = np.array([3, 2, 4, 3])
    features = rng.normal(size=(4, 4, N_FEATURES)).astype(np.float32)
    rewards = rng.normal(size=(4, 4)).astype(np.float32)
    return CandidateDays(features, rewards, rewards > 0.5, counts, [dt.date(2025, 7, d) for d in (7, 8, 9, 10)])


def test_the_envs_build_observations_in_the_declared_layout(days):
    names = observation_names([f"f{i}" for i in range(N_FEATURES)])
    assert names[N_FEATURES:] == CONTEXT_OBSERVATIONS == ("budget_left", "day_progress")
    assert len(names) == observation_size(N_FEATURES)
    env = OptionsFilterEnv(days, window_days=2, budget=2)
    assert env.observation_space.shape == (observation_size(N_FEATURES),)
    batched = BatchedOptionsFilterEnv(days, n_envs=1, window_days=2, budget=2)
    observation, _ = env.reset(options={"start_day": 1})
    first = batched.reset(torch.tensor([1]))[0].numpy()
    after_take, *_ = env.step(1)
    after_take_batched = batched.step(torch.tensor([1]))[0][0].numpy()
    for shown, batched_shown, position, left in ((observation, first, 0, 2), (after_take, after_take_batched, 1, 1)):
        np.testing.assert_array_equal(shown, batched_shown)
        by_name = dict(zip(names, shown.tolist(), strict=True))
        np.testing.assert_array_equal(shown[:N_FEATURES], days.features[1, position])
        assert by_name["budget_left"] == left / 2 and by_name["day_progress"] == position / days.counts[1]
    # What the agent scores a candidate by is the env's first observation of that candidate's day.
    np.testing.assert_array_equal(day_start_observations(days.features[1, :1])[0], observation)


def test_the_policy_is_sized_and_scored_by_the_layout(days):
    config = PPOConfig(n_envs=4, n_steps=4, total_steps=16, epochs=1, minibatch_size=16, hidden=8, window_days=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model, _ = train_ppo(days, config)
    assert model.n_observations == observation_size(N_FEATURES) == model.trunk[0].in_features
    agent = ActorCritic(observation_size(N_FEATURES), 8)
    env = OptionsFilterEnv(days, window_days=1, budget=2)
    for day in range(len(days.dates)):
        observation, _ = env.reset(options={"start_day": day})
        logits, _ = agent(torch.as_tensor(observation[None]))
        expected = torch.softmax(logits, dim=-1)[0, 1].item()
        assert take_probability(agent, days.features[day, :1])[0] == pytest.approx(expected, abs=1e-7)


# ---- Exit reasons: reward.py's list, the SQL's literals held to it


def _exit_reason_literals(node: exp.Expression) -> set[str]:
    return {literal.this for literal in node.find_all(exp.Literal) if literal.is_string}


def test_the_sql_writes_and_counts_exactly_rewards_exit_reasons():
    assert EXIT_REASONS == tuple(ExitReason) and len(set(EXIT_REASONS)) == len(EXIT_REASONS)
    written = [a for a in parse_statement("insert_rl_dataset").find_all(exp.Alias) if a.alias == "exit_reason"]
    assert len(written) == 1 and _exit_reason_literals(written[0]) == set(EXIT_REASONS)
    for name in ("rl_dataset_summary", "rl_dataset_quality"):
        statement = parse_statement(name)
        compared = [
            node
            for node in statement.find_all(exp.EQ, exp.NEQ)
            if any(isinstance(side, exp.Column) and side.name == "exit_reason" for side in (node.left, node.right))
        ]
        assert set().union(*map(_exit_reason_literals, compared)) == set(EXIT_REASONS), name
        # Each reason counted as a column of its own name (the asset's `exits` metadata reads them).
        counted = {
            alias.alias
            for alias in statement.find_all(exp.Alias)
            if isinstance(alias.this, exp.CountIf) and _exit_reason_literals(alias.this) == {alias.alias}
        }
        assert counted == set(EXIT_REASONS), name
        assert set(EXIT_REASONS) <= {s.alias_or_name for s in statement.selects}, name


def test_resolve_names_its_exits_from_the_declared_list():
    window = [calendar.shift_trading_days(D1, k) for k in (1, 2, 3)]
    contract = {"snapshot_date": D1, "entry_price": 2.0, "option_type": "call", "strike": 100.0}
    later = dt.date(2025, 12, 19)
    reasons = {
        resolve(**contract, expiration=later, bids={window[0]: 3.0}, closes={}).exit_reason,
        resolve(**contract, expiration=later, bids={window[2]: 2.1}, closes={}).exit_reason,
        resolve(**contract, expiration=later, bids={}, closes={}).exit_reason,
        resolve(**contract, expiration=window[1], bids={}, closes={window[1]: 101.0}).exit_reason,
        resolve(**contract, expiration=window[1], bids={}, closes={}).exit_reason,
    }
    assert all(isinstance(r, ExitReason) for r in reasons) and reasons == set(ExitReason)
