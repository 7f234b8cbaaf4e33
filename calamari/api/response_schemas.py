"""JSON schemas of the answers many routes share, for the OpenAPI document."""

OBJECT = {"type": "object"}
LIST = {"type": "array", "items": {"type": "object"}}
ACCEPTED = {"type": "object", "required": ["request_id"], "properties": {"request_id": {"type": "string"}}}
