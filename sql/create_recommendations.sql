-- The day's candidate trades from rl_state through the rule screener: the list the agent filters.
-- Key: (snapshot_date, contract_symbol).
CREATE TABLE IF NOT EXISTS recommendations (
    snapshot_date DATE NOT NULL,
    contract_symbol STRING NOT NULL,
    underlying STRING NOT NULL,
    option_type STRING NOT NULL,
    strike FLOAT64 NOT NULL,
    expiration DATE NOT NULL,
    dte INT64,
    delta FLOAT64,
    spread_pct FLOAT64,
    volume INT64,
    open_interest INT64,
    entry_price FLOAT64 NOT NULL
)
PARTITION BY snapshot_date
CLUSTER BY underlying
