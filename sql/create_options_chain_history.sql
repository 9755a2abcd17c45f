-- Point-in-time archive of the live chain: every options_chain column plus the trading date the
-- snapshot belongs to and when it was archived. Key: (snapshot_date, contract_symbol).
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
    archived_at TIMESTAMP NOT NULL
)
PARTITION BY snapshot_date
CLUSTER BY underlying
