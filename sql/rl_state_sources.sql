-- Per trading date: archived contracts, the candidates among them (bid > 0, ask > 0, expiring
-- after T), and candidates whose underlying has no technicals row that day (kept in rl_state with
-- NULL technicals and technicals_incomplete TRUE).
SELECT
    h.snapshot_date,
    COUNT(*) AS contracts,
    COUNTIF(h.bid > 0 AND h.ask > 0 AND h.underlying_price > 0 AND h.expiration > h.snapshot_date) AS candidates,
    COUNTIF(
        h.bid > 0 AND h.ask > 0 AND h.underlying_price > 0 AND h.expiration > h.snapshot_date AND t.ticker IS NULL
    ) AS candidates_without_technicals
FROM options_chain_history AS h
LEFT JOIN technicals_history AS t
    ON t.ticker = h.underlying AND t.date = h.snapshot_date AND t.date BETWEEN @start_date AND @end_date
WHERE h.snapshot_date BETWEEN @start_date AND @end_date
GROUP BY h.snapshot_date
ORDER BY h.snapshot_date
