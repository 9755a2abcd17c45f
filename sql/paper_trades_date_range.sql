-- The first and last trade dates paper_trades holds.
SELECT MIN(trade_date) AS first_date, MAX(trade_date) AS last_date, COUNT(*) AS row_count
FROM paper_trades
