-- Every paper trade of [@start_date, @end_date].
SELECT
    trade_date, contract_symbol, underlying, model_name, model_version, model_usable_from, pick_rank,
    score, entry_price, recorded_at, exit_date, exit_price, reward, hit_50, exit_reason, resolved_at
FROM paper_trades
WHERE trade_date BETWEEN @start_date AND @end_date
ORDER BY trade_date, model_name, pick_rank
