"""A parsed target -> the series it stands for: paths are fetched through the caller's function,
calls have their arguments bound to the function's parameters (checked and converted), and the
series read and points computed are charged to the request's QueryBudget."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from calamari.graphite.budget import QueryBudget
from calamari.graphite.errors import ExpressionError
from calamari.graphite.functions import FUNCTIONS, Function, Param
from calamari.graphite.parser import CallNode, LiteralNode, Node, PathNode
from calamari.graphite.series import Series

Fetch = Callable[[str], list[Series]]


@dataclass
class Context:
    """What evaluation needs: the metric fetcher (already bound to the time range) and the
    request's budget. Evaluation charges the series fetched and the points read and computed; a
    fetcher that reads files should call `budget.ensure_room` before each read, so that a query
    over too many series stops before reading them."""

    fetch: Fetch
    budget: QueryBudget = field(default_factory=QueryBudget)


def evaluate(node: Node, ctx: Context) -> list[Series]:
    """The series a parsed target stands for."""
    if isinstance(node, PathNode):
        series = ctx.fetch(node.pattern)
        ctx.budget.add(len(series), _points(series))
        return series
    if isinstance(node, LiteralNode):
        raise ExpressionError(f"{node.value!r} is not a series (a metric path or a function call)")
    fn = FUNCTIONS.get(node.name)
    if fn is None:
        raise ExpressionError(f"unknown function {node.name!r}")
    out = fn.run(*_bind(fn, node, ctx))
    # what a function made, plus its per-series work on its other arguments (aliasByNode's nodes)
    ctx.budget.add(0, _points(out) + len(out) * (len(node.args) + len(node.kwargs)))
    return out


def _points(series: list[Series]) -> int:
    return sum(len(s.values) for s in series)


def _bind(fn: Function, node: CallNode, ctx: Context) -> list[Any]:
    """Match the call's arguments to the function's parameters, checked and converted."""
    bound: dict[str, Any] = {}
    positional = list(node.args)
    for param in fn.params:
        if param.multiple:
            bound[param.name] = [_convert(fn, param, a, ctx) for a in positional]
            positional = []
            if param.required and not bound[param.name]:
                raise ExpressionError(f"{fn.name}: needs at least one {param.name}")
        elif positional:
            bound[param.name] = _convert(fn, param, positional.pop(0), ctx)
    if positional:
        raise ExpressionError(f"{fn.name}: too many arguments")
    names = {p.name: p for p in fn.params}
    for key, value in node.kwargs:
        param = names.get(key)
        if param is None or param.multiple:
            raise ExpressionError(f"{fn.name}: no argument named {key!r}")
        if key in bound:
            raise ExpressionError(f"{fn.name}: {key!r} given twice")
        bound[key] = _convert(fn, param, value, ctx)
    out = []
    for param in fn.params:
        if param.name in bound:
            out.append(bound[param.name])
        elif param.required:
            raise ExpressionError(f"{fn.name}: missing argument {param.name!r}")
        else:
            out.append(param.default)
    return out


def _convert(fn: Function, param: Param, node: Node, ctx: Context) -> Any:
    where = f"{fn.name}: {param.name}"
    if param.kind in ("seriesList", "seriesLists"):
        if isinstance(node, LiteralNode):
            raise ExpressionError(f"{where} must be a series, not {node.value!r}")
        return evaluate(node, ctx)
    if not isinstance(node, LiteralNode):
        wanted = {"float": "number", "integer": "whole number", "node": "node index (a whole number)",
                  "string": "quoted string", "boolean": "true or false"}.get(param.kind, param.kind)
        raise ExpressionError(f"{where} must be a {wanted}, not a series")
    value = node.value
    if param.kind == "boolean":
        if not isinstance(value, bool):
            raise ExpressionError(f"{where} must be true or false")
        return value
    if param.kind == "string":
        if not isinstance(value, str):
            raise ExpressionError(f"{where} must be a quoted string")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ExpressionError(f"{where} must be a number")
    if param.kind in ("integer", "node"):
        if not float(value).is_integer():
            raise ExpressionError(f"{where} must be a whole number")
        return int(value)
    if not math.isfinite(value):
        raise ExpressionError(f"{where} must be finite")
    return float(value)
