"""Graphite target parsing: the hand-written parser (calamari/graphite/parser.py) against the same
language written for lark (LALR, callbacks applied while parsing, no tree) and pyparsing, over
Grafana-style targets (nested calls, globs, keyword arguments), and deep nesting.

Every variant turns a target into the same PathNode/LiteralNode/CallNode tree and compiles each
metric pattern (as parse_target does), so the figures compare whole parses. lark and pyparsing are
not dependencies: install them to compare (`pip install lark pyparsing`); without them only the
hand-written parser is timed.

    .venv/bin/python bench/bench_graphite_parse.py [--parses 10000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from calamari.graphite.glob import compile_path
from calamari.graphite.parser import CallNode, LiteralNode, PathNode, parse_target

FSID = "f3b9a7c2-5d1e-4a8b-9c6f-0e2d4b8a1c37"
TARGETS = [
    f"aliasByNode(ceph.cluster.{FSID}.osd.*.kb_used, 4)",
    "alias(scale(sumSeries(servers.{alpha,beta}.cpu.total.idle, servers.c*.cpu.total.user), 0.5), 'cpu idle')",
    "nonNegativeDerivative(servers.host0[0-4]?.network.eth0.rx_bytes, maxValue=4294967295)",
    f"perSecond(ceph.cluster.{FSID}.pool.{{1,2,3}}.num_read)",
    "divideSeries(sumSeries(ceph.cluster.*.df.total_used_bytes), sumSeries(ceph.cluster.*.df.total_bytes))",
    "keepLastValue(averageSeries(servers.*.cpu.total.idle), limit=3)",
    "aliasByMetric(servers.alpha.memory.used)",
    "servers.*.cpu.total.idle",
    "scale(offset(absolute(derivative(ceph.cluster.*.osd.{0,1,2}.apply_latency_ms)), -1), 1e3)",
    "group(maxSeries(servers.*.cpu.total.user), minSeries(servers.*.cpu.total.user), 'x', true)",
]
DEEP = "sumSeries(" * 30 + "a.b" + ")" * 30  # within the default nesting limit of 32

# One pattern for a metric path, shared by both library grammars: path characters, and braces or
# brackets (which may hold commas) nested up to two deep.
_PLAIN = r"[A-Za-z0-9._\-*?:#@%+~^$!]"
_GROUP = r"(?:\{(?:[^{}()]|\{[^{}()]*\})*\}|\[[^\]]*\])"
PATH_RE = rf"(?:{_PLAIN}|{_GROUP})+"
NUMBER_RE = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?(?=\s*[,)]|\s*$)"
FUNC_RE = r"[A-Za-z_][A-Za-z0-9_]*(?=\s*\()"


def _number(text: str) -> LiteralNode:
    return LiteralNode(float(text) if any(c in text for c in ".eE") else int(text))


def _path(text: str) -> PathNode:
    compile_path(text)
    return PathNode(text)


def _call(name: str, arguments: list[Any], text: str) -> CallNode:
    args = tuple(a for a in arguments if not isinstance(a, tuple))
    kwargs = tuple(a for a in arguments if isinstance(a, tuple))
    return CallNode(name, args, kwargs, text)


def lark_parser() -> Callable[[str], Any] | None:
    try:
        from lark import Lark, Transformer, v_args
    except ImportError:
        return None
    grammar = rf"""
        ?start: expr
        ?expr: call | STRING -> string | NUMBER -> number | BOOL -> boolean | PATH -> path
        call: FUNC "(" [arg ("," arg)*] ")"
        ?arg: expr | NAME "=" expr -> kwarg
        FUNC.4: /{FUNC_RE}/
        BOOL.3: /(true|True|false|False)(?=\s*[,)]|\s*$)/
        NUMBER.3: /{NUMBER_RE}/
        NAME.2: /[A-Za-z_][A-Za-z0-9_]*(?=\s*=)/
        PATH.1: /{PATH_RE}/
        STRING: /"[^"]*"|'[^']*'/
        %ignore /\s+/
    """

    @v_args(inline=True)
    class ToNodes(Transformer):
        def string(self, token: Any) -> LiteralNode:
            return LiteralNode(str(token)[1:-1])

        def number(self, token: Any) -> LiteralNode:
            return _number(str(token))

        def boolean(self, token: Any) -> LiteralNode:
            return LiteralNode(str(token) in ("true", "True"))

        def path(self, token: Any) -> PathNode:
            return _path(str(token))

        def kwarg(self, name: Any, value: Any) -> tuple[str, Any]:
            return (str(name), value)

        def call(self, name: Any, *arguments: Any) -> CallNode:
            # the call's text is not kept by the callbacks; the hand-written parser slices it, so do so too
            return _call(str(name), [a for a in arguments if a is not None], "")

    parser = Lark(grammar, parser="lalr", transformer=ToNodes(), maybe_placeholders=False)
    return parser.parse


def pyparsing_parser() -> Callable[[str], Any] | None:
    try:
        import pyparsing as pp
    except ImportError:
        return None
    pp.ParserElement.enable_packrat()
    expr = pp.Forward()
    string = pp.QuotedString('"') | pp.QuotedString("'")
    string.set_parse_action(lambda t: LiteralNode(t[0]))
    number = pp.Regex(NUMBER_RE).set_parse_action(lambda t: _number(t[0]))
    boolean = pp.Regex(r"(true|True|false|False)(?=\s*[,)]|\s*$)").set_parse_action(
        lambda t: LiteralNode(t[0] in ("true", "True")))
    path = pp.Regex(PATH_RE).set_parse_action(lambda t: _path(t[0]))
    kwarg = pp.Group(pp.Regex(r"[A-Za-z_][A-Za-z0-9_]*(?=\s*=)") + pp.Suppress("=") + expr)
    kwarg.set_parse_action(lambda t: (t[0][0], t[0][1]))
    arguments = pp.Optional(pp.DelimitedList(kwarg | expr))
    call = pp.Regex(FUNC_RE) + pp.Suppress("(") + pp.Group(arguments) + pp.Suppress(")")
    call.set_parse_action(lambda t: _call(t[0], list(t[1]), ""))
    expr <<= call | string | number | boolean | path
    return lambda text: expr.parse_string(text, parse_all=True)[0]


def _each(run: Callable[[str], Any], texts: list[str]) -> None:
    """`run` on every text, keeping no result (thousands of kept glob automata would time the
    garbage collector instead)."""
    for text in texts:
        run(text)


def best_of(repeat: int, run: Callable[[], None]) -> float:
    """The fastest of `repeat` runs, in seconds (the least disturbed by other work on the machine)."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parses", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    targets = [TARGETS[i % len(TARGETS)] for i in range(args.parses)]
    variants: dict[str, Callable[[str], Any] | None] = {
        "hand-written (calamari.graphite.parser)": parse_target,
        "lark (LALR, callbacks while parsing)": lark_parser(),
        "pyparsing (packrat)": pyparsing_parser(),
    }
    paths = _paths(targets)
    compile_only = best_of(args.repeat, lambda: _each(compile_path, paths))
    print(f"{args.parses} Grafana-style targets (avg {sum(map(len, targets)) // len(targets)} characters); "
          f"compiling their globs alone takes {compile_only * 1000:.0f} ms of each run")
    for name, parse in variants.items():
        if parse is None:
            print(f"  {name:<42} not installed")
            continue
        for target in TARGETS:  # same trees, so the figures compare the same work
            assert _shape(parse(target)) == _shape(parse_target(target)), (name, target)
        seconds = best_of(args.repeat, lambda parse=parse: _each(parse, targets))
        deep = best_of(args.repeat, lambda parse=parse: _each(parse, [DEEP] * 1000))
        print(f"  {name:<42} {seconds * 1000:8.0f} ms  ({seconds / args.parses * 1e6:6.1f} us a target); "
              f"1000 x 30 nested calls {deep * 1000:6.0f} ms")


def _paths(targets: list[str]) -> list[str]:
    out: list[str] = []
    for target in targets:
        stack = [parse_target(target)]
        while stack:
            node = stack.pop()
            if isinstance(node, PathNode):
                out.append(node.pattern)
            elif isinstance(node, CallNode):
                stack.extend(node.args)
                stack.extend(v for _, v in node.kwargs)
    return out


def _shape(node: Any) -> Any:
    """A node without the call's source text (which only the hand-written parser keeps)."""
    if isinstance(node, CallNode):
        return (node.name, tuple(_shape(a) for a in node.args), tuple((k, _shape(v)) for k, v in node.kwargs))
    return node


if __name__ == "__main__":
    main()
