"""What the assets show in Dagster's UI: markdown tables and plots (PNG, inlined as markdown images).

One helper for each: `markdown_table`, `figure`/`png` and `markdown_image`; the reports built on
them: the models' out-of-sample picks (`pick_table`, `out_of_sample_plot`), PPO's per-update
training diagnostics (`training_table`, `training_curve_plot`) and the paper-trading performance
(`performance_table`, `performance_plot`). matplotlib draws off screen (Agg) and is imported on first
use, not with the module.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import pandas as pd

from rl_assets.paper_trading import ALL_RECOMMENDATIONS
from rl_assets.ppo import UpdateDiagnostics
from rl_assets.training import PICKS, daily_picks


def markdown_table(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    """A markdown table; cells are written as given (format numbers before)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def markdown_image(png: bytes, title: str) -> str:
    return f"![{title}](data:image/png;base64,{base64.b64encode(png).decode()})"


def figure(ncols: int, nrows: int = 1, size: tuple[float, float] = (10, 3.6)):
    """A matplotlib figure and its axes, drawn off screen."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(nrows, ncols, figsize=size, dpi=90)


def png(drawn) -> bytes:
    """The figure as PNG bytes; the figure is closed (pyplot keeps every open figure otherwise)."""
    import matplotlib.pyplot as plt

    drawn.tight_layout()
    buffer = io.BytesIO()
    drawn.savefig(buffer, format="png")
    plt.close(drawn)
    return buffer.getvalue()


def _interval(stats: dict, sign: str = "") -> str:
    return f"{stats['value']:{sign}.1%} [{stats['low']:{sign}.1%}, {stats['high']:{sign}.1%}]"


# ---- the models, out of sample


def pick_table(metrics: dict, models: Sequence[str], picks: Sequence[int] = PICKS) -> str:
    """Per k: each model's daily top-k hit rate (95% interval) and mean reward, and the base rate."""
    rows = []
    for k in picks:
        cells = [
            f"{_interval(metrics[model][f'top_{k}']['hit_rate'])}, "
            f"reward {metrics[model][f'top_{k}']['mean_reward']['value']:+.1%}"
            for model in models
        ]
        rows.append([k, *cells, f"{metrics['base_rate']['value']:.1%}"])
    return markdown_table(["k", *models, "base rate"], rows)


def out_of_sample_plot(
    scored: pd.DataFrame, metrics: dict, models: Sequence[str], picks: Sequence[int] = PICKS
) -> bytes:
    """Hit rate of daily top-k picks by k (with intervals and the base rate), and the cumulative
    reward of each model's daily top-5 picks over the test days."""
    drawn, (left, right) = figure(2)
    for model in models:
        rates = [metrics[model][f"top_{k}"]["hit_rate"] for k in picks]
        values = [r["value"] for r in rates]
        errors = [
            [v - r["low"] for v, r in zip(values, rates, strict=True)],
            [r["high"] - v for v, r in zip(values, rates, strict=True)],
        ]
        left.errorbar(picks, values, yerr=errors, marker="o", capsize=3, label=model)
        top = daily_picks(scored, f"score_{model}", 5).groupby("snapshot_date")["reward"].mean()
        right.plot(pd.to_datetime(top.index), top.cumsum().to_numpy(), label=f"{model} top-5")
    base = metrics["base_rate"]
    left.axhline(base["value"], color="grey", linestyle="--", label="base rate")
    left.set(xlabel="picks per day (k)", ylabel="hit rate (>50% in 3 days)", title="Out-of-sample hit rate")
    everyone = scored.groupby("snapshot_date")["reward"].mean()
    right.plot(
        pd.to_datetime(everyone.index),
        everyone.cumsum().to_numpy(),
        color="grey",
        linestyle="--",
        label="all candidates",
    )
    right.set(xlabel="test day", ylabel="cumulative mean reward", title="Daily picks, cumulative reward")
    right.tick_params(axis="x", labelrotation=30)
    left.legend(fontsize=7)
    right.legend(fontsize=7)
    return png(drawn)


# ---- PPO's training diagnostics

_DIAGNOSTICS = ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction", "explained_variance")


def training_table(updates: Sequence[UpdateDiagnostics], rows: int = 10) -> str:
    """At most `rows` updates, evenly spaced, the first and the last among them."""
    if not updates:
        return "(no PPO update)"
    picked = sorted({round(i * (len(updates) - 1) / max(rows - 1, 1)) for i in range(min(rows, len(updates)))})
    return markdown_table(
        ["update", "env steps", *_DIAGNOSTICS],
        [
            [u.update, f"{u.env_steps:,}", *(f"{getattr(u, name):.4g}" for name in _DIAGNOSTICS)]
            for u in (updates[i] for i in picked)
        ],
    )


def training_curve_plot(updates: Sequence[UpdateDiagnostics]) -> bytes:
    """Each diagnostic against env steps, one panel each."""
    drawn, axes = figure(3, 2, size=(10, 5.4))
    steps = [u.env_steps for u in updates]
    for axis, name in zip(axes.flat, _DIAGNOSTICS, strict=True):
        axis.plot(steps, [getattr(u, name) for u in updates], marker=".")
        axis.set_title(name.replace("_", " "), fontsize=9)
        axis.tick_params(labelsize=7)
        axis.set_xlabel("env steps", fontsize=7)
    return png(drawn)


# ---- paper trading


def performance_table(summary: dict) -> str:
    """Per model (and all recommendations): resolved picks, hit rate and mean reward, 95% intervals."""
    return markdown_table(
        ["", "resolved picks", "hit rate (>50% in 3 days)", "mean reward"],
        [
            [
                model,
                f"{stats['resolved_picks']} over {stats['days']} days",
                _interval(stats["hit_rate"]),
                _interval(stats["mean_reward"], "+"),
            ]
            for model, stats in summary.items()
        ],
    )


def performance_plot(daily: pd.DataFrame) -> bytes:
    """Equity curves and running hit rates per model and for all recommendations."""
    drawn, (left, right) = figure(2)
    for model, group in daily.groupby("model_name"):
        dates = pd.to_datetime(group["trade_date"])
        style = {"color": "grey", "linestyle": "--"} if model == ALL_RECOMMENDATIONS else {}
        left.plot(dates, group["equity"], label=model, **style)
        right.plot(dates, group["running_hit_rate"], label=model, **style)
    left.set(title="Equity: cumulative mean reward of the day's picks", xlabel="trade date")
    right.set(title="Running hit rate (>50% within 3 days)", xlabel="trade date")
    for axis in (left, right):
        axis.tick_params(axis="x", labelrotation=30)
        axis.legend(fontsize=7)
    return png(drawn)
