-- The live chain: one row per listed contract, latest snapshot only. In production an existing
-- pipeline owns this table and replaces it every day.
CREATE TABLE IF NOT EXISTS options_chain (
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
    quote_time TIMESTAMP
)
