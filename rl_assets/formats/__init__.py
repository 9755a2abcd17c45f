"""Vendor layouts of the live chain and the daily prices (RL_ASSETS_CHAIN_FORMAT, RL_ASSETS_PRICE_FORMAT)."""
