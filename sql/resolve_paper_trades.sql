-- Fill the outcome of open paper trades of [@start_date, @end_date] whose rl_dataset row exists:
-- the same reward the dataset holds (sql/insert_rl_dataset.sql), for the same entry at T's ask.
UPDATE paper_trades AS p
SET
    exit_date = d.exit_date,
    exit_price = d.exit_price,
    reward = d.reward,
    hit_50 = d.hit_50,
    exit_reason = d.exit_reason,
    resolved_at = @resolved_at
FROM rl_dataset AS d
WHERE p.trade_date BETWEEN @start_date AND @end_date
    AND d.snapshot_date BETWEEN @start_date AND @end_date
    AND d.snapshot_date = p.trade_date
    AND d.contract_symbol = p.contract_symbol
    AND p.resolved_at IS NULL
