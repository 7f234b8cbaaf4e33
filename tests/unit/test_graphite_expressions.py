"""The Graphite target parser, evaluator, functions and time syntax (pure, no files)."""

from datetime import UTC, datetime

import pytest

from calamari.graphite.errors import ExpressionError
from calamari.graphite.evaluate import Context, evaluate
from calamari.graphite.functions import FUNCTIONS, function_catalog
from calamari.graphite.glob import compile_node, compile_path, split_path
from calamari.graphite.parser import CallNode, LiteralNode, PathNode, parse_target
from calamari.graphite.series import Series, align, limit_points
from calamari.graphite.timespec import TimeSyntaxError, parse_time

NOW = 1_700_000_000


def fetcher(series_by_name):
    """A fetch over in-memory series that honours the same glob rules as the store."""
    def fetch(pattern):
        glob = compile_path(pattern)
        return [Series(name, start, step, list(values), pattern)
                for name, (start, step, values) in sorted(series_by_name.items()) if glob.matches(name)]
    return fetch


def run(target, data):
    return evaluate(parse_target(target), Context(fetch=fetcher(data)))


# ---------------------------------------------------------------------------- parser

def test_parse_nested_calls_paths_and_literals():
    node = parse_target("alias(scale(sumSeries(servers.{a,b}.cpu.total.idle, servers.c*.x), 0.5), 'cpu idle')")
    assert isinstance(node, CallNode) and node.name == "alias"
    scale, name = node.args
    assert name == LiteralNode("cpu idle")
    assert scale.name == "scale" and scale.args[1] == LiteralNode(0.5)
    summed = scale.args[0]
    assert summed.args == (PathNode("servers.{a,b}.cpu.total.idle"), PathNode("servers.c*.x"))


def test_parse_keyword_arguments_numbers_and_booleans():
    node = parse_target('nonNegativeDerivative(a.b, maxValue=4294967295)')
    assert node.kwargs == (("maxValue", LiteralNode(4294967295)),)
    assert parse_target("f(a, -2, 1e3, true, \"x\")").args[1:] == (
        LiteralNode(-2), LiteralNode(1000.0), LiteralNode(True), LiteralNode("x"))


@pytest.mark.parametrize("text, reason", [
    ("sumSeries(a.b", "missing ')'"),
    ("sumSeries(a.b))", "unexpected ')'"),
    ("scale(a.b, 'x)", "unterminated string"),
    ("a.{b,c", "unclosed brace"),
    ("a.b}", "unbalanced"),
    ("", "ends early"),
    ("__import__('os').system('x')", "unexpected '.'"),
    ("a.b;c", "unexpected ';'"),
    ("f(x=1, a.b)", "positional argument after a keyword"),
    ("f(" * 40 + "a" + ")" * 40, "nested too deeply"),
])
def test_bad_expressions_explain_themselves(text, reason):
    with pytest.raises(ExpressionError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        parse_target(text)


@pytest.mark.parametrize("target, reason", [
    ("noSuchFunction(a.b)", "unknown function 'noSuchFunction'"),
    ("scale(a.b)", "missing argument 'factor'"),
    ("scale(a.b, 'two')", "must be a number"),
    ("scale(a.b, 2, 3)", "too many arguments"),
    ("scale(1, 2)", "must be a series"),
    ("alias(a.b, 3)", "must be a quoted string"),
    ("sumSeries()", "needs at least one"),
    ("aliasByNode(a.b, 1.5)", "whole number"),
    ("scale(a.b, factor=2, factor=3)", "given twice"),
    ("scale(a.b, bogus=2)", "no argument named 'bogus'"),
    ("divideSeries(a.*, a.*)", "exactly one series"),
    ("42", "not a series"),
])
def test_bad_calls_explain_themselves(target, reason):
    data = {"a.b": (NOW, 60, [1.0, 2.0]), "a.c": (NOW, 60, [3.0, 4.0])}
    with pytest.raises(ExpressionError, match=reason):
        run(target, data)


# ---------------------------------------------------------------------------- globs

@pytest.mark.parametrize("pattern, matches, misses", [
    ("osd*", ["osd", "osd12"], ["xosd"]),
    ("osd?", ["osd1"], ["osd", "osd12"]),
    ("{rx,tx}_bytes", ["rx_bytes", "tx_bytes"], ["xx_bytes"]),
    ("{a{1,2},b}", ["a1", "a2", "b"], ["a3", "a"]),
    ("sd[a-c]", ["sda", "sdc"], ["sdd"]),
    ("sd[!a]", ["sdb"], ["sda"]),
    ("a+b", ["a+b"], ["aab"]),
])
def test_node_patterns(pattern, matches, misses):
    glob = compile_node(pattern)
    assert all(glob.matches(m) for m in matches)
    assert not any(glob.matches(m) for m in misses)


def test_split_path_keeps_braces_whole():
    assert split_path("a.{b.c,d}.e") == ["a", "{b.c,d}", "e"]
    with pytest.raises(ExpressionError, match="empty node"):
        split_path("a..b")


# ---------------------------------------------------------------------------- functions

def test_sum_and_average_skip_missing_points():
    data = {"h.a.v": (NOW, 60, [1.0, None, 3.0, None]), "h.b.v": (NOW, 60, [10.0, 20.0, None, None])}
    [total] = run("sumSeries(h.*.v)", data)
    assert total.name == "sumSeries(h.*.v)"
    assert total.values == [11.0, 20.0, 3.0, None]
    [mean] = run("averageSeries(h.a.v, h.b.v)", data)
    assert mean.values == [5.5, 20.0, 3.0, None]


def test_combining_series_of_different_steps_consolidates_to_the_coarser():
    fine = (NOW, 60, [1.0, 3.0, 5.0, 7.0, 9.0, 11.0])
    coarse = (NOW, 180, [100.0, 200.0])
    start, step, rows = align([Series("f", *fine), Series("c", *coarse)])
    assert step == 180 and start == NOW
    [total] = run("sumSeries(x.{f,c})", {"x.f": fine, "x.c": coarse})
    assert total.step == 180
    assert [v for v in total.values if v is not None] == [103.0, 209.0]


def test_scale_offset_alias_nested():
    data = {"p.1.num_bytes": (NOW, 60, [1024.0, None, 2048.0])}
    [s] = run("alias(offset(scale(p.1.num_bytes, 0.5), 1), 'half')", data)
    assert s.name == "half" and s.values == [513.0, None, 1025.0]
    [t] = run("scale(p.1.num_bytes,2)", data)
    assert t.name == "scale(p.1.num_bytes,2)"


def test_derivative_and_counter_resets():
    data = {"n.rx": (NOW, 60, [100.0, 160.0, None, 300.0, 340.0, 10.0, 70.0])}
    assert run("derivative(n.rx)", data)[0].values == [None, 60.0, None, None, 40.0, -330.0, 60.0]
    assert run("nonNegativeDerivative(n.rx)", data)[0].values == [None, 60.0, None, None, 40.0, None, 60.0]
    wrapped = run("nonNegativeDerivative(n.rx, 400)", data)[0].values
    assert wrapped[5] == 400 + 1 + 10.0 - 340.0
    assert run("perSecond(n.rx)", data)[0].values[1] == 1.0


def test_min_max_diff_divide_and_alias_by_node():
    data = {"s.a.used": (NOW, 60, [1.0, 8.0]), "s.b.used": (NOW, 60, [4.0, 2.0]), "s.t.total": (NOW, 60, [8.0, 0.0])}
    assert run("maxSeries(s.*.used)", data)[0].values == [4.0, 8.0]
    assert run("minSeries(s.*.used)", data)[0].values == [1.0, 2.0]
    assert run("diffSeries(s.a.used, s.b.used)", data)[0].values == [-3.0, 6.0]
    assert run("divideSeries(s.a.used, s.t.total)", data)[0].values == [0.125, None]
    names = [s.name for s in run("aliasByNode(scale(s.*.used, 2), 1)", data)]
    assert names == ["a", "b"]
    assert [s.name for s in run("aliasByMetric(s.*.used)", data)] == ["used", "used"]


def test_keep_last_value_fills_short_gaps_only():
    data = {"g.v": (NOW, 60, [1.0, None, 3.0, None, None, None, 7.0, None])}
    assert run("keepLastValue(g.v, 1)", data)[0].values == [1.0, 1.0, 3.0, None, None, None, 7.0, None]
    assert run("keepLastValue(g.v)", data)[0].values == [1.0, 1.0, 3.0, 3.0, 3.0, 3.0, 7.0, None]


def test_limit_points_averages_neighbours():
    s = Series("x", NOW, 60, [1.0, 3.0, None, 5.0, 7.0])
    small = limit_points(s, 2)
    assert small.step == 180 and small.values == [2.0, 6.0]


def test_catalog_lists_every_function_with_graphite_param_types():
    catalog = function_catalog()
    assert set(catalog) == set(FUNCTIONS)
    assert catalog["scale"]["params"] == [{"name": "seriesList", "type": "seriesList", "required": True},
                                          {"name": "factor", "type": "float", "required": True}]


# ---------------------------------------------------------------------------- time syntax

@pytest.mark.parametrize("text, expected", [
    ("now", NOW), ("", NOW), ("-1h", NOW - 3600), ("-7d", NOW - 7 * 86400), ("now-30min", NOW - 1800),
    ("-5min", NOW - 300), ("-2w", NOW - 14 * 86400), ("-1mon", NOW - 30 * 86400), ("-1y", NOW - 365 * 86400),
    ("+10s", NOW + 10), ("1699990000", 1699990000),
    ("20231114", int(datetime(2023, 11, 14, tzinfo=UTC).timestamp())),
    ("13:45_20231114", int(datetime(2023, 11, 14, 13, 45, tzinfo=UTC).timestamp())),
])
def test_graphite_times(text, expected):
    assert parse_time(text, NOW) == expected


@pytest.mark.parametrize("text", ["-1fortnight", "yesterday-ish", "25:00_20231114", "99999999999999999", "-h"])
def test_bad_times_are_refused(text):
    with pytest.raises(TimeSyntaxError):
        parse_time(text, NOW)
