"""Roll-ups, KPIs, reports and surveys (layer 6)."""
