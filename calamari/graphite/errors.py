"""The error every refused target, pattern or call raises, and how its message quotes the input."""

from __future__ import annotations


class ExpressionError(ValueError):
    """A target expression that cannot be parsed or evaluated; the message says why."""


def shown(text: str, limit: int = 80) -> str:
    """`text` quoted for an error message, cut when long (a pattern may be thousands of characters)."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + "..."
