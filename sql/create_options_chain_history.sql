-- Point-in-time archive of the live chain: every options_chain column plus the trading date the
-- snapshot belongs to, when it was archived, the whole source row as the vendor had it (JSON; NULL
-- when the source is the contract's own columns) and where the IV and the greeks came from
-- ('vendor', 'computed', 'mixed' or NULL). Key: (snapshot_date, contract_symbol).
CREATE TABLE IF NOT EXISTS options_chain_history (
    underlying STRING NOT NULL,
    contract_symbol STRING NOT NULL,
    option_type STRING NOT NULL,
    strike FLOAT64 NOT NULL,
    expiration DATE NOT NULL,
    dte INT64,
    bid FLOAT64,
    ask FLOAT64,
    mid FLOAT64,
    last FLOAT64,
    volume INT64,
    open_interest INT64,
    implied_volatility FLOAT64,
    delta FLOAT64,
    gamma FLOAT64,
    theta FLOAT64,
    vega FLOAT64,
    rho FLOAT64,
    underlying_price FLOAT64,
    quote_time TIMESTAMP NOT NULL,
    snapshot_date DATE NOT NULL,
    archived_at TIMESTAMP NOT NULL,
    source_row STRING,
    iv_source STRING,
    greeks_source STRING
)
PARTITION BY snapshot_date
CLUSTER BY underlying
