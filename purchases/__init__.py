"""Sales and returns from tills and shops (layer 5)."""
