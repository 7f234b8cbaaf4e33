"""Graphite's target language, pure: no files, sockets or clocks (the caller passes `now` and a
function that fetches series), so the render API, the stats API, the whisper reader and tests share
it. One job per module, and each imports only the ones before it in this list:

- `errors.py`: ExpressionError, the reason a target or pattern is refused.
- `series.py`: the Series type; consolidation, alignment onto one grid.
- `timespec.py`: from/until values (`-1h`, `now-7d`, `HH:MM_YYYYMMDD`, ...).
- `limits.py`: QueryLimits (how much one request may ask for) and QueryTooLarge.
- `glob.py`: metric-path globs, split into nodes and matched in linear time.
- `budget.py`: QueryBudget, the work one request has done so far.
- `parser.py`: target expressions -> PathNode, LiteralNode, CallNode.
- `functions.py`: the function registry, its implementations and the catalog.
- `evaluate.py`: a parsed target -> the series it stands for.
"""
