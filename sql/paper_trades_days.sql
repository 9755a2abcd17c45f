-- Per trading date and model: picks recorded and resolved, in a window.
SELECT trade_date, model_name, COUNT(*) AS picks, COUNTIF(resolved_at IS NOT NULL) AS resolved
FROM paper_trades
WHERE trade_date BETWEEN @start_date AND @end_date
GROUP BY trade_date, model_name
ORDER BY trade_date, model_name
