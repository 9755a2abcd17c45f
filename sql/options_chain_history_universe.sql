-- Every underlying the archive holds (files mode's universe: what the history files held).
SELECT DISTINCT underlying AS ticker
FROM options_chain_history
ORDER BY ticker
