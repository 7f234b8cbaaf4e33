"""Notifications of alerts: channels (where to send), the outbox (what to send, delivered or not),
routing, repeats and back-off. Pure: `channel` and `notification` are the aggregates, `routing`
the decisions, `outbox` what records them in the model, `rows` the documents the API shows.

The modules are imported by name (the model's state imports the aggregates, so this package
imports nothing itself)."""
