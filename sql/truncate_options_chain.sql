-- Empties the live table before a fresh load, as the existing pipeline does every day.
TRUNCATE TABLE options_chain
