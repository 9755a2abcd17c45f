-- Record picks (from the staging table), outcomes empty: they are filled by resolve_paper_trades.
INSERT INTO paper_trades (
    trade_date, contract_symbol, underlying, model_name, model_version, model_usable_from, pick_rank,
    score, entry_price, recorded_at
)
SELECT
    trade_date, contract_symbol, underlying, model_name, model_version, model_usable_from, pick_rank,
    score, entry_price, recorded_at
FROM paper_trades_staging
