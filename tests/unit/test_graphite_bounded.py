"""Graphite globs and targets cannot stall the server: matching is linear in the name (counted in
matcher steps, never timed), a malformed glob or target answers 400 with a reason, a query that
needs more than the limits answers 413 before reading what it cannot afford, and neither route
takes the service lock. Fuzzed with hypothesis: every answer is 200, 400 or 413, never a 500."""

import fnmatch
import itertools
import tempfile
import threading
import time

import pytest
from api_support import FAST_HASHER, PASSWORD
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calamari.adapters.timeseries import TimeSeriesWriter, WhisperStore
from calamari.bootstrap import build_app
from calamari.graphite import glob as glob_module
from calamari.graphite.budget import QueryBudget
from calamari.graphite.errors import ExpressionError
from calamari.graphite.evaluate import Context, evaluate
from calamari.graphite.glob import compile_node, compile_path
from calamari.graphite.limits import QueryLimits, QueryTooLarge
from calamari.graphite.parser import parse_target
from calamari.graphite.series import Series
from calamari.service.auth import AuthService
from calamari.service.model import ModelService, ServiceConfig

FSID = "f3b9a7c2-5d1e-4a8b-9c6f-0e2d4b8a1c37"  # 36 characters, as the cluster names were
HOSTS = ("alpha", "beta", "gamma")
METRICS = [f"servers.{h}.{m}" for h in HOSTS for m in ("cpu.total.idle", "cpu.total.user", "memory.used",
                                                         "network.eth0.rx_bytes")] + \
          [f"ceph.cluster.{FSID}.{m}" for m in ("df.total_bytes", "df.total_used_bytes", "pool.1.num_bytes",
                                                "pool.2.num_bytes", "osd.0.kb_used")]
# Longest name a node pattern is matched against in this store (the fsid).
LONGEST_NAME = max(len(node) for metric in METRICS for node in metric.split("."))


def matcher_bound(pattern: str, name_length: int) -> int:
    """A generous, deterministic ceiling on the matcher's steps for one name: per character one
    step, plus at most one visit of every NFA state (about two per pattern character) and every
    class range when that character meets a new DFA state. Linear in the name, linear in the
    pattern; a backtracking matcher needs exponentially many steps instead."""
    return name_length * (1 + 4 * (len(pattern) + 2))


# ---------------------------------------------------------------------------- fixtures

def build_store(root, now):
    store = WhisperStore(root)
    writer = TimeSeriesWriter(store)
    points = [[metric, now - 60 * (10 - k), float(k)] for metric in METRICS for k in range(10)]
    writer.write_batch([(FSID, "alpha", points)])
    return store


class CountingStore:
    """A WhisperStore whose reads are counted (to show that a refused query read nothing)."""

    def __init__(self, store):
        self._store = store
        self.reads = 0

    def __getattr__(self, name):
        return getattr(self._store, name)

    def fetch(self, metric, start, end, now=None):
        self.reads += 1
        return self._store.fetch(metric, start, end, now)

    def find(self, pattern, budget=None):
        return self._store.find(pattern, budget)

    def fetch_pattern(self, pattern, start, end, now=None, budget=None):
        # the real method, reading through this object's counted fetch
        return WhisperStore.fetch_pattern(self, pattern, start, end, now, budget)


class CountingLock:
    """Stands in for the service lock and counts how often it is taken."""

    def __init__(self, lock):
        self._lock = lock
        self.taken = 0

    def __enter__(self):
        self.taken += 1
        return self._lock.__enter__()

    def __exit__(self, *exc):
        return self._lock.__exit__(*exc)

    def acquire(self, *args, **kwargs):
        self.taken += 1
        return self._lock.acquire(*args, **kwargs)

    def release(self):
        return self._lock.release()


class Api:
    def __init__(self, store, limits=None):
        self.service = ModelService(ServiceConfig(data_dir=tempfile.mkdtemp(prefix="graphite-bounded-")))
        auth = AuthService(self.service, hasher=FAST_HASHER)
        auth.add_user("viewer", PASSWORD, "read-only", "test")
        options = {"TIMESERIES": store}
        if limits is not None:
            options["GRAPHITE_LIMITS"] = limits
        self.app = build_app(self.service, auth=auth, **options)
        self.client = self.app.test_client()
        token = self.client.post("/api/v2/auth/login", json={"username": "viewer", "password": PASSWORD}).json["token"]
        self.client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"

    def find(self, query, method="GET"):
        if method == "POST":
            return self.client.post("/graphite/metrics/find", data={"query": query})
        return self.client.get("/graphite/metrics/find", query_string={"query": query})

    def render(self, *targets, method="GET", **params):
        values = {"target": list(targets), "from": "-1h", **params}
        if method == "POST":
            return self.client.post("/graphite/render", data=values)
        return self.client.get("/graphite/render", query_string=values)

    def close(self):
        self.service.close()


@pytest.fixture(scope="module")
def now():
    return int(time.time())


@pytest.fixture(scope="module")
def store(tmp_path_factory, now):
    return build_store(str(tmp_path_factory.mktemp("bounded") / "whisper"), now)


@pytest.fixture(scope="module")
def api(store):
    api = Api(store)
    yield api
    api.close()


def limited_api(store, **limits):
    return Api(store, QueryLimits(**limits))


# ---------------------------------------------------------------------------- the inputs

def test_the_pathological_query_answers_at_once_with_few_matcher_steps(store, api):
    # `ceph.cluster.**********Z` took 13 s (each `*` x7) with a backtracking regex
    for stars in (10, 20, 40):
        pattern = "ceph.cluster." + "*" * stars + "Z"
        budget = QueryBudget()
        assert store.find(pattern, budget) == []
        assert 0 < budget.match_steps <= budget.candidates * matcher_bound("*Z", LONGEST_NAME)
        response = api.find(pattern)
        assert response.status_code == 200 and response.get_json() == []
        render = api.render(f"sumSeries(ceph.cluster.{'*' * stars}Z)")
        assert render.status_code == 200 and render.get_json() == []


@pytest.mark.parametrize("node", ["*a" * 12 + "Z", "*?" * 15 + "Z", "{*a,*b}" * 8 + "Z", "*[a-f]*[0-9]" * 6 + "Z"])
def test_star_heavy_nodes_cost_steps_linear_in_the_name(store, node):
    name = "a" * 60 + "b" * 60 + "0" * 60
    budget = QueryBudget()
    assert not compile_node(node).matches(name, budget)
    assert budget.match_steps <= matcher_bound(node, len(name))
    budget = QueryBudget()
    store.find(f"ceph.cluster.{node}", budget)
    assert budget.match_steps <= budget.candidates * matcher_bound(node, LONGEST_NAME)


@pytest.mark.parametrize("pattern, reason", [
    ("ceph.[z-a]", "invalid range z-a"),
    ("ceph.cluster.*.df.[9-0]*", "invalid range 9-0"),
    ("servers." + "{" * 1000 + "a" + "}" * 1000, "nested more than 32 deep"),
    ("servers." + "{a," * 40 + "b" + "}" * 40, "nested more than 32 deep"),
    ("servers." + "[" * 1000 + "]" * 1000, "unbalanced ']'"),
    ("servers.[]", "empty character class"),
    ("servers.[!]", "empty character class"),
    ("servers.{alpha,beta", "unclosed"),
    ("servers.alpha}", "unbalanced '}'"),
    ("servers.a[bc", "unclosed"),
    ("a." * 40 + "b", "more than 32 nodes"),
    ("servers." + "x" * 9000, "longer than 8192"),
    ("servers..cpu", "empty node"),
])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_malformed_patterns_answer_400_with_a_reason_on_both_routes(api, pattern, reason, method):
    for response, field in ((api.find(pattern, method), "query"), (api.render(pattern, method=method), "target")):
        assert response.status_code == 400, (pattern[:40], field, response.get_json())
        body = response.get_json()
        assert reason in body["errors"][field] and body["detail"] == body["errors"][field]
    # inside a call (the reason may name the call's syntax instead: `sumSeries(a.{b)` is unclosed either way)
    response = api.render(f"sumSeries(servers.*.cpu.total.idle, {pattern})", method=method)
    assert response.status_code == 400 and response.get_json()["errors"]["target"]


@pytest.mark.parametrize("target, reason", [
    ("sumSeries(" * 500 + "a.b" + ")" * 500, "nested too deeply"),
    ("sumSeries(" + ",".join(["servers.alpha.memory.used"] * 300) + ")", "more than 256 arguments"),
    ("scale(servers.*.cpu.total.idle, 1" + "0" * 5000 + ")", "number too long"),
    ("alias(servers.*.memory.used, '" + "x" * 9000 + "')", "longer than 8192"),
])
def test_malformed_targets_answer_400_with_a_reason(api, target, reason):
    response = api.render(target, method="POST")
    assert response.status_code == 400
    assert reason in response.get_json()["errors"]["target"]


def test_every_target_is_checked_before_any_is_read(store):
    counting = CountingStore(store)
    api = Api(counting)
    try:
        response = api.render("servers.*.cpu.total.idle", "servers.{alpha,beta", "ceph.[z-a]")
        assert response.status_code == 400 and "unclosed" in response.get_json()["errors"]["target"]
        assert counting.reads == 0
        assert api.render("servers.*.cpu.total.idle").status_code == 200 and counting.reads == len(HOSTS)
    finally:
        api.close()


# ---------------------------------------------------------------------------- work limits

@pytest.mark.parametrize("limits, query, reason", [
    ({"max_candidates": 10}, "servers.*.*.*", "looks at more than 10 metric names"),
    ({"max_match_steps": 20}, "servers.?*.?*.?*", "more than 20 steps"),
])
def test_find_beyond_its_limits_answers_413(store, limits, query, reason):
    api = limited_api(store, **limits)
    try:
        response = api.find(query)
        assert response.status_code == 413
        assert reason in response.get_json()["errors"]["query"]
        assert api.find("servers.alpha.cpu.total.*").status_code == 200  # a narrow query still answers
    finally:
        api.close()


@pytest.mark.parametrize("limits, target, reads", [
    # refused before reading: the matches alone are too many series
    (lambda points: {"max_series": 2}, "servers.*.cpu.total.idle", 0),
    (lambda points: {"max_series": 5}, "group(servers.*.memory.used, servers.*.cpu.total.idle)", 3),
    # each read is counted against the points: reading stops at the read that passes the limit
    (lambda points: {"max_points": 2 * points + 1}, "servers.*.cpu.total.*", 3),
    # what functions compute counts too: 3 series read fit, their scaled copies do not
    (lambda points: {"max_points": 5 * points}, "scale(scale(servers.*.memory.used,2),2)", 3),
])
def test_render_beyond_its_limits_answers_413_without_reading_on(store, limits, target, reads):
    now = int(time.time())
    points = len(store.fetch("servers.alpha.memory.used", now - 3600, now).values)  # per series in -1h
    limits = limits(points)
    counting = CountingStore(store)
    api = Api(counting, QueryLimits(**limits))
    try:
        response = api.render(target)
        assert response.status_code == 413, response.get_json()
        reason = f"more than {limits.get('max_series', limits.get('max_points'))} "
        assert reason in response.get_json()["errors"]["target"]
        assert counting.reads == reads
    finally:
        api.close()


def test_the_budget_is_shared_by_all_targets_of_a_request(store):
    api = limited_api(store, max_series=4)
    try:
        assert api.render("servers.*.cpu.total.idle").status_code == 200
        response = api.render("servers.*.cpu.total.idle", "servers.*.memory.used")
        assert response.status_code == 413 and "more than 4 series" in response.get_json()["errors"]["target"]
    finally:
        api.close()


def test_neither_route_takes_the_service_lock(store):
    api = Api(store)
    try:
        api.client.get("/graphite/functions")  # the token index is built (under the lock) once
        lock = api.service.lock = CountingLock(api.service.lock)
        assert api.client.get("/graphite/functions").status_code == 200
        baseline = lock.taken  # what authenticating a request takes, if anything
        assert api.find("servers.*.*.*").status_code == 200
        assert api.render("sumSeries(servers.*.cpu.total.*)", "servers.{alpha,beta}.memory.used").status_code == 200
        assert lock.taken == 3 * baseline
    finally:
        api.close()


def test_an_expensive_find_leaves_other_threads_running(store):
    """A match runs as Python bytecode (no regex engine holding the interpreter lock), so another
    thread keeps making progress while a long match runs; counted in iterations, not timed."""
    node = compile_node("{" + ",".join(f"*{i:03d}*x" for i in range(300)) + "}Z")
    progress = []
    stop = threading.Event()

    def count():
        while not stop.is_set():
            progress.append(1)

    budget = QueryBudget(QueryLimits(max_match_steps=10**9))
    thread = threading.Thread(target=count)
    thread.start()
    try:
        before = len(progress)
        node.matches("".join(f"{i:03d}x" for i in range(62)), budget)  # a name of 248 characters
        during = len(progress) - before
    finally:
        stop.set()
        thread.join()
    assert budget.match_steps > 100_000  # a long match, long enough to need a thread switch
    assert during > 0


# ---------------------------------------------------------------------------- same results as fnmatch

def _literal(alphabet):
    return st.sampled_from(alphabet).map(lambda c: (c, [c]))


_CLASSES = st.sampled_from(["[ab]", "[!a]", "[a-c]", "[!b-c]", "[-a]", "[a-]", "[^a]", "[b]"]).map(lambda c: (c, [c]))


def _glob_atoms(inner):
    braces = st.lists(inner, min_size=1, max_size=3).map(
        lambda seqs: ("{" + ",".join(text for text, _ in seqs) + "}", [e for _, exp in seqs for e in exp]))
    return st.one_of(braces, _literal("ab"))


def _sequence(atoms):
    return st.lists(atoms, max_size=4).map(lambda parts: (
        "".join(text for text, _ in parts),
        ["".join(combo) for combo in itertools.product(*(exp for _, exp in parts))] if parts else [""]))


_ATOM = st.one_of(_literal("ab-!^"), st.just(("*", ["*"])), st.just(("?", ["?"])), _CLASSES)
# (glob text, the same glob as plain fnmatch patterns with its braces expanded)
GLOBS = st.recursive(_sequence(_ATOM), lambda inner: _sequence(st.one_of(_ATOM, _glob_atoms(inner))), max_leaves=8)


@settings(max_examples=400, deadline=None, database=None)
@given(glob=GLOBS, names=st.lists(st.text(alphabet="ab-!^c", max_size=7), max_size=10))
def test_globs_match_exactly_what_fnmatch_matches_after_brace_expansion(glob, names):
    text, expanded = glob
    if not text:
        return
    node = compile_node(text)
    for name in names + ["".join(e.replace("*", "").replace("?", "a")) for e in expanded[:3]]:
        expected = any(fnmatch.fnmatchcase(name, pattern) for pattern in expanded)
        assert node.matches(name) is expected, (text, name)


def test_a_full_dfa_cache_is_forgotten_without_changing_answers(monkeypatch):
    """The DFA built while matching stays bounded: past its size it is dropped and rebuilt, even
    in the middle of a name, and the answers stay those of an unbounded cache."""
    patterns = ["*a*b*c", "{a*,*b,?c}*[!d]", "{" + ",".join(f"*{i}*" for i in range(40)) + "}x", "[a-c]?*{ab,ba}"]
    names = ["abcabc", "xyz", "abd", "ccab", "".join(str(i) for i in range(40)) + "x", "a" * 50 + "b" * 50 + "c"]
    expected = {(p, n): compile_node(p).matches(n) for p in patterns for n in names}
    monkeypatch.setattr(glob_module, "_MAX_DFA_SIZE", 30)
    for pattern in patterns:
        node = compile_node(pattern)
        largest = 0
        for name in names * 2:
            assert node.matches(name) is expected[(pattern, name)], (pattern, name)
            largest = max(largest, node._size)
        nfa_states = len(node._nfa.kinds)
        assert largest <= 30 + 2 * (nfa_states + 1) + 2  # the limit, plus the state kept and the one built


@pytest.mark.parametrize("query, expected", [
    ("servers.*", ["servers.alpha", "servers.beta", "servers.gamma"]),
    ("servers.?eta.*", ["servers.beta.cpu", "servers.beta.memory", "servers.beta.network"]),
    ("servers.{alpha,gamma}.memory.used", ["servers.alpha.memory.used", "servers.gamma.memory.used"]),
    ("servers.*.network.eth[0-3].rx_bytes", [f"servers.{h}.network.eth0.rx_bytes" for h in HOSTS]),
    ("servers.[!ab]*.cpu.total.*", ["servers.gamma.cpu.total.idle", "servers.gamma.cpu.total.user"]),
    ("servers.{a{l,x}pha,b*}.cpu.total.{idle,nothing}", ["servers.alpha.cpu.total.idle", "servers.beta.cpu.total.idle"]),
    (f"ceph.cluster.{FSID[:8]}*.pool.*.num_bytes", [f"ceph.cluster.{FSID}.pool.{p}.num_bytes" for p in (1, 2)]),
    ("servers.alpha.cpu.total.idle", ["servers.alpha.cpu.total.idle"]),
    ("servers.nobody.*", []),
])
def test_find_answers_what_it_did_before_for_normal_globs(api, query, expected):
    assert [n["id"] for n in api.find(query).get_json()] == expected


# ---------------------------------------------------------------------------- fuzzing

ALPHABET = "ab*?[]{}(),.-!^z'= "


def _nested(inner):
    return st.one_of(
        st.lists(inner, min_size=1, max_size=3).map(lambda xs: "{" + ",".join(xs) + "}"),
        inner.map(lambda x: "[" + x + "]"),
        st.lists(inner, min_size=1, max_size=3).map(lambda xs: "sumSeries(" + ",".join(xs) + ")"),
        st.tuples(inner, inner).map(".".join),
        st.tuples(inner, st.integers(-3, 3)).map(lambda t: f"scale({t[0]},{t[1]})"),
    )


RAW = st.text(alphabet=ALPHABET, max_size=40)
NESTED = st.recursive(st.text(alphabet="ab*?-!^z", max_size=4), _nested, max_leaves=25)
PATTERNS = st.one_of(RAW, NESTED, NESTED.map(lambda p: "servers." + p), NESTED.map(lambda p: "servers.*." + p),
                     st.integers(1, 300).map(lambda n: "servers." + "{" * n + "a" + "}" * n),
                     st.integers(1, 300).map(lambda n: "servers." + "*a" * n + "Z"))


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(pattern=PATTERNS, method=st.sampled_from(["GET", "POST"]))
def test_fuzzed_targets_and_globs_answer_200_or_400(api, pattern, method):
    for response, field in ((api.find(pattern, method), "query"), (api.render(pattern, method=method), "target")):
        if not pattern.strip():
            assert response.status_code == 400
            continue
        assert response.status_code in (200, 400), (pattern, field, response.get_data(as_text=True)[:200])
        if response.status_code == 400:
            assert response.get_json()["errors"][field]


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(pattern=PATTERNS, name=st.one_of(st.text(alphabet="abz-!^0", max_size=80),
                                        st.integers(0, 250).map(lambda n: "a" * n)))
def test_fuzzed_globs_cost_steps_linear_in_name_and_pattern(store, pattern, name):
    try:
        glob = compile_path(pattern)
    except ExpressionError:
        return
    for node in glob.nodes:
        budget = QueryBudget()
        node.matches(name, budget)
        assert budget.match_steps <= matcher_bound(node.text, len(name) + 1)
    budget = QueryBudget()
    try:
        store.find(pattern, budget)
    except ExpressionError:  # a literal node that cannot name a metric
        return
    assert budget.match_steps <= budget.candidates * matcher_bound(pattern, LONGEST_NAME + 1)


@settings(max_examples=200, deadline=None, database=None)
@given(target=st.one_of(RAW, NESTED))
def test_fuzzed_targets_parse_or_raise_expression_errors_only(target):
    data = [Series("servers.alpha.memory.used", 0, 60, [1.0, None, 3.0], "")]
    try:
        node = parse_target(target)
        evaluate(node, Context(fetch=lambda pattern: [s for s in data if compile_path(pattern).matches(s.name)]))
    except QueryTooLarge:
        pytest.fail(f"{target!r} is small and should fit the limits")
    except ExpressionError as err:
        assert str(err)
