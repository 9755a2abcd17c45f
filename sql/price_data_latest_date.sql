-- The newest trading date in price_data (what a check run on its own, outside a partitioned run, checks).
SELECT MAX(date) AS latest_date
FROM price_data
