"""How much work one render or find request may ask for, and the error for a query past it."""

from __future__ import annotations

from dataclasses import dataclass

from calamari.graphite.errors import ExpressionError


class QueryTooLarge(ExpressionError):
    """A well-formed query that needs more work than one request may do; the message names the
    limit and how to stay under it."""


@dataclass(frozen=True)
class QueryLimits:
    """How much one render or find request may ask for (docs/security.md, "Bounded work")."""

    max_target_length: int = 8192  # characters of one target or find query
    max_nodes: int = 32  # dot-separated nodes of a path (a metric name has at most 32)
    max_nesting: int = 32  # function calls inside calls, braces inside braces
    max_arguments: int = 256  # arguments of one function call
    max_candidates: int = 200_000  # directory entries (metric and folder names) looked at
    max_match_steps: int = 2_000_000  # glob matcher steps: one per character of a name, more for a new state
    max_series: int = 10_000  # series read
    max_points: int = 5_000_000  # points read plus points computed by functions


DEFAULT_LIMITS = QueryLimits()
