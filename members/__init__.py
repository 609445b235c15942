"""Members, tiers, segments and the points ledger (layer 2)."""
