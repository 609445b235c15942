"""Earning rules, campaigns, referrals, challenges and broadcasts (layer 4)."""
