"""Chain and price formats: how a vendor's table becomes the table contract (docs/design.md).

A format is a YAML file, validated by pydantic: a built-in preset (rl_assets/formats/presets/) or
the user's own. Each contract column gets one rule: read a source column (renamed, scaled, value-
mapped, sentinel-nulled, parsed from a date format or an epoch) or derive it (mid from bid/ask, dte,
the OCC symbol's parts, the underlying's close from price_data). rl_assets.formats.select turns a
format into SQL that runs in the warehouse; nothing here touches data.
"""

from __future__ import annotations

import re
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from rl_assets.schema import OPTIONS_CHAIN_COLUMNS, PRICE_DATA_COLUMNS

PRESETS_DIR = Path(__file__).resolve().parent / "presets"
PRICE_PRESETS_DIR = PRESETS_DIR / "prices"
CONTRACT = "contract"  # the identity preset: the table already has the contract's columns


class FormatError(ValueError):
    """A format file is missing or invalid; the message names the file, the key and the problem."""


class Derived(StrEnum):
    """Contract values computed from other contract columns rather than read from the source."""

    MID = "mid"  # (bid + ask) / 2
    DTE = "dte"  # calendar days from the quote's New York date to expiration
    PRICE_CLOSE = "price_close"  # price_data's close of the underlying on the quote's New York date
    OCC_UNDERLYING = "occ_underlying"  # the root of an OCC symbol (optional 'O:' prefix, padded root)
    OCC_OPTION_TYPE = "occ_option_type"
    OCC_STRIKE = "occ_strike"
    OCC_EXPIRATION = "occ_expiration"
    OCC_SYMBOL = "occ_symbol"  # the OCC symbol built from underlying, expiration, option_type and strike


class Epoch(StrEnum):
    S = "s"
    MS = "ms"
    US = "us"
    NS = "ns"


Scalar = str | int | float


class ColumnRule(BaseModel):
    """How one contract column is made from a source row."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    column: str | None = Field(
        default=None, description="The source column (exact name, else ignoring case and spaces)."
    )
    call_column: str | None = Field(default=None, description="Wide layout: the column holding the call's value.")
    put_column: str | None = Field(default=None, description="Wide layout: the column holding the put's value.")
    derive: Derived | None = None
    constant: Scalar | None = None
    scale: float | None = Field(default=None, description="Multiply the value (0.01: percent to fraction).")
    values: dict[str, str] | None = Field(
        default=None, description="Source value -> contract value (trimmed, any case)."
    )
    null_if: list[Scalar] = Field(default_factory=list, description="Sentinels stored as NULL (e.g. -999).")
    date_format: str | None = Field(default=None, description="BigQuery format elements of a text date or time.")
    epoch: Epoch | None = Field(default=None, description="The column counts seconds/ms/us/ns since 1970 UTC.")
    timezone: str | None = Field(default=None, description="The zone of a time without one (default America/New_York).")
    stamp: Literal["session_close"] | None = Field(
        default=None, description="A date-only quote date stamped at that session's close in New York."
    )
    optional: bool = Field(default=False, description="The source may lack the column: the value is NULL.")

    @model_validator(mode="after")
    def _one_source(self) -> ColumnRule:
        # With an OCC derive, `column` names the source column it reads: the symbol to parse, or for
        # occ_symbol the root (default: the underlying).
        occ = self.derive is not None and self.derive.value.startswith("occ_")
        sources = [
            name
            for name, present in (
                ("column", self.column is not None and not occ),
                ("call_column/put_column", self.call_column is not None or self.put_column is not None),
                ("derive", self.derive is not None),
                ("constant", self.constant is not None),
            )
            if present
        ]
        if len(sources) != 1:
            raise ValueError(
                f"give exactly one of column, call_column+put_column, derive or constant; got {sources or 'none'}"
            )
        if (self.call_column is None) != (self.put_column is None):
            raise ValueError("call_column and put_column go together")
        if self.column is not None and self.derive is not None and not occ:
            raise ValueError(f"derive: {self.derive.value} reads contract columns, not a source column")
        if self.derive is not None or self.constant is not None:
            used = [k for k in ("scale", "values", "date_format", "epoch", "stamp") if getattr(self, k) is not None]
            if used or self.null_if:
                raise ValueError(f"{used or ['null_if']} apply to a source column, not to derive/constant")
        if self.epoch is not None and self.date_format is not None:
            raise ValueError("give epoch or date_format, not both")
        if self.scale is not None and (self.scale == 0 or self.scale != self.scale):
            raise ValueError("scale must be a non-zero number")
        for name in (self.column, self.call_column, self.put_column):
            if name is not None and (not name.strip() or "`" in name or "\n" in name):
                raise ValueError(f"column name {name!r} is empty or holds a backtick or a newline")
        if self.timezone is not None:
            _require_timezone(self.timezone)
        return self

    @property
    def source_columns(self) -> list[str]:
        return [c for c in (self.column, self.call_column, self.put_column) if c is not None]


def _require_timezone(zone: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {zone!r} (use an IANA name such as America/New_York)") from None
    return zone


class GreeksRule(BaseModel):
    """Where the vendor has no IV or greeks (or placeholders): solve IV from the mid quote and compute
    Black-Scholes-Merton greeks with this rate and dividend yield (annual, continuously compounded)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    compute: Literal["missing", "never"] = "missing"
    rate: float = Field(default=0.04, ge=-0.2, le=1.0)
    dividend_yield: float = Field(default=0.0, ge=-0.2, le=1.0)


class _Format(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    extends: str | None = Field(default=None, description="A preset whose rules this file overrides.")
    columns: dict[str, ColumnRule]


class ChainFormat(_Format):
    """A chain layout: one rule per contract column (rl_assets.schema.OPTIONS_CHAIN_COLUMNS)."""

    layout: Literal["long", "wide"] = "long"
    placeholder_iv: list[float] = Field(
        default_factory=list,
        description="Source IVs that are placeholders (matched to 1e-9 relative): such a row's IV and greeks "
        "are NULL, then computed.",
    )
    greeks: GreeksRule = GreeksRule()

    @field_validator("columns")
    @classmethod
    def _contract_columns(cls, columns: dict[str, ColumnRule]) -> dict[str, ColumnRule]:
        return _check_columns(columns, OPTIONS_CHAIN_COLUMNS, CHAIN_REQUIRED, "chain")

    @model_validator(mode="after")
    def _layout(self) -> ChainFormat:
        quote_time = self.columns.get("quote_time")
        if quote_time is not None and quote_time.column and LAST_TRADE.search(quote_time.column):
            raise ValueError(
                f"columns.quote_time reads {quote_time.column!r}, a last-trade time: the snapshot's time is when "
                "the chain was quoted (a quote time, the pipeline's fetch time, or the quote date with stamp: "
                "session_close), never when a contract last traded"
            )
        wide = [c for c, rule in self.columns.items() if rule.call_column is not None]
        if self.layout == "long" and wide:
            raise ValueError(f"columns {wide} use call_column/put_column, which need layout: wide")
        if self.layout == "long" and "option_type" not in self.columns:
            raise ValueError("columns: a long layout needs a rule for option_type")
        if self.placeholder_iv and "implied_volatility" not in self.columns:
            raise ValueError("placeholder_iv needs an implied_volatility column rule")
        return self

    def rule(self, column: str) -> ColumnRule | None:
        """The rule of a contract column, with the defaults: mid from bid/ask, dte from the dates;
        in a wide layout option_type is the row's leg."""
        if column in self.columns:
            return self.columns[column]
        if column == "mid":
            return ColumnRule(derive=Derived.MID)
        if column == "dte":
            return ColumnRule(derive=Derived.DTE)
        return None


# close_only without a rule is FALSE: a user's price table holds real bars.
PRICE_REQUIRED = [c for c in PRICE_DATA_COLUMNS if c != "close_only"]


class PriceFormat(_Format):
    """A daily-bar layout: one rule per price_data column (rl_assets.schema.PRICE_DATA_COLUMNS)."""

    @field_validator("columns")
    @classmethod
    def _contract_columns(cls, columns: dict[str, ColumnRule]) -> dict[str, ColumnRule]:
        columns = _check_columns(columns, PRICE_DATA_COLUMNS, PRICE_REQUIRED, "price")
        derived = [c for c, rule in columns.items() if rule.derive is not None or rule.call_column is not None]
        if derived:
            raise ValueError(f"price columns {derived} must read a source column or a constant")
        return columns

    def rule(self, column: str) -> ColumnRule | None:
        return self.columns.get(column)


# Column names of a last-trade time (yfinance's lastTradeDate, Tradier's trade_date, Schwab's
# tradeTimeInLong): never the snapshot's time.
LAST_TRADE = re.compile(r"last_?trade|trade_?(date|time)", re.IGNORECASE)
CHAIN_REQUIRED = ["underlying", "contract_symbol", "strike", "expiration", "quote_time"]


def _check_columns(columns: dict[str, ColumnRule], contract: list[str], required: list[str], kind: str):
    unknown = [c for c in columns if c not in contract]
    if unknown:
        raise ValueError(f"{unknown} are not {kind} contract columns; the contract's are {contract}")
    missing = [c for c in required if c not in columns]
    if missing:
        raise ValueError(f"no rule for the required {kind} columns {missing}")
    return columns


def _describe(error: ValidationError) -> str:
    """Pydantic's errors as 'key.path: problem', one per line."""
    lines = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = item["msg"].removeprefix("Value error, ")
        lines.append(f"{where}: {message}")
    return "; ".join(lines)


def _read_yaml(path: Path, where: str) -> dict:
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as error:
        raise FormatError(f"{where}: cannot read {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise FormatError(f"{where}: {path} is not valid YAML{at}: {getattr(error, 'problem', error)}") from None
    if not isinstance(data, dict):
        raise FormatError(
            f"{where}: {path} must hold a mapping of keys (name, columns, ...); found {type(data).__name__}"
        )
    return data


def preset_names(kind: Literal["chain", "price"] = "chain") -> list[str]:
    folder = PRESETS_DIR if kind == "chain" else PRICE_PRESETS_DIR
    return sorted(p.stem for p in folder.glob("*.yaml"))


def _load(spec: str, model: type[ChainFormat] | type[PriceFormat], folder: Path, kind: str, seen: tuple[str, ...] = ()):
    """A preset's name or a YAML file's path -> the validated format (`extends` merged under it)."""
    spec = spec.strip()
    is_file = spec.endswith((".yaml", ".yml")) or "/" in spec
    path = Path(spec).expanduser() if is_file else folder / f"{spec}.yaml"
    where = f"{kind} format {spec!r}"
    if not is_file and not path.is_file():
        raise FormatError(
            f"{where}: no such preset; the presets are {', '.join(preset_names(kind))} "
            "(or give the path of a .yaml file of your own)"
        )
    if spec in seen:
        raise FormatError(f"{where}: extends itself ({' -> '.join([*seen, spec])})")
    data = _read_yaml(path, where)
    parent = data.get("extends")
    if parent is not None:
        if not isinstance(parent, str):
            raise FormatError(f"{where}: extends: must be a preset name or a file path")
        base = _load(parent, model, folder, kind, (*seen, spec))
        merged = base.model_dump(exclude_defaults=False, mode="json")
        merged["columns"] = {
            **{c: r.model_dump(exclude_defaults=True, mode="json") for c, r in base.columns.items()},
            **(data.get("columns") or {}),
        }
        data = {**merged, **{k: v for k, v in data.items() if k != "columns"}, "columns": merged["columns"]}
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise FormatError(f"{where} ({path}): {_describe(error)}") from None


@cache
def load_chain_format(spec: str = CONTRACT) -> ChainFormat:
    """RL_ASSETS_CHAIN_FORMAT: a preset's name or the path of a YAML file; a FormatError names the key."""
    return _load(spec, ChainFormat, PRESETS_DIR, "chain")


@cache
def load_price_format(spec: str = CONTRACT) -> PriceFormat:
    """RL_ASSETS_PRICE_FORMAT: a preset's name or the path of a YAML file; a FormatError names the key."""
    return _load(spec, PriceFormat, PRICE_PRESETS_DIR, "price")
