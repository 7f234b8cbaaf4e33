"""Alerts: rules evaluated on the model, the Alert and Silence aggregates, what changed before (pure)."""
