DELETE FROM paper_trades
WHERE trade_date BETWEEN @start_date AND @end_date
