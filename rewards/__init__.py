"""Rewards catalogue, redemptions, vouchers and gift cards (layer 3)."""
