"""Kept answers served on the HTTP server's I/O loop (calamari.api.answers): byte for byte what the
app answers, never after a change to the model, never to a caller the app would refuse, and only
to the role they were made for."""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import orjson
import pytest
from api_support import harness_fixture

from calamari.adapters.http_server import ConnectionLimits, create_http_server
from calamari.api.answers import at_once_for
from calamari.service.model import ChangeLock

api = harness_fixture(steps=("00", "01", "02", "03", "04", "05"))

READS = ["cluster/{fsid}/osd", "cluster/{fsid}/osd/0", "cluster/{fsid}/pool", "cluster/{fsid}",
         "cluster/{fsid}/server", "cluster/{fsid}/mon", "cluster/{fsid}/crush_rule",
         "cluster/{fsid}/osd?fields=id,up,in", "cluster/{fsid}/osd?limit=1&offset=1", "cluster/{fsid}/osd?pools=compact",
         "cluster/{fsid}/pool?fields=name", "cluster/{fsid}/server?limit=1"]
LIVENESS_S = 30  # bounds a wait that a working server ends at once; never a speed assertion


@contextlib.contextmanager
def serving(app, at_once: bool = True, threads: int = 2) -> Iterator[int]:
    server = create_http_server(app, "127.0.0.1", 0, threads=threads, limits=ConnectionLimits(),
                                at_once=at_once_for(app) if at_once else None)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield int(server.effective_port)
    finally:
        server.close()
        server.task_dispatcher.shutdown(timeout=5)
        thread.join(10)


def get(port: int, path: str, token: str | None = None, encoding: str = "identity",
        headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=LIVENESS_S)
    try:
        sent = {"Accept-Encoding": encoding, **(headers or {})}
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        connection.request("GET", path, headers=sent)
        answer = connection.getresponse()
        body = answer.read()
        return answer.status, {k.lower(): v for k, v in answer.getheaders() if k != "Date"}, body
    finally:
        connection.close()


def read_answer(stream) -> tuple[int, bytes]:
    """One answer off a connection's byte stream: (status, body by its Content-Length)."""
    status = int(stream.readline().split(b" ")[1])
    length = 0
    while (line := stream.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.lower() == "content-length":
            length = int(value)
    return status, stream.read(length)


def cache(api):
    return api.app.extensions["calamari_answers"]


def full(api, path: str) -> str:
    return "/api/v2/" + path.format(fsid=api.fsid)


@pytest.mark.parametrize("encoding", ["identity", "gzip, deflate, br"])
def test_a_kept_answer_is_byte_for_byte_the_apps(api, encoding):
    token = api.token("viewer")
    with serving(api.app) as cached, serving(api.app, at_once=False) as plain:
        for path in READS:
            first = get(cached, full(api, path), token, encoding)
            hits = cache(api).hits
            again = get(cached, full(api, path), token, encoding)
            assert cache(api).hits == hits + 1, path  # answered from what was kept
            # the app itself, no cache in front (the same Host: the Link header names it)
            fresh = get(plain, full(api, path), token, encoding, headers={"Host": f"127.0.0.1:{cached}"})
            assert first[0] == again[0] == fresh[0] == 200
            assert again == fresh == first, path  # status, every header but Date, and body


def test_a_change_is_seen_by_the_next_read(api):
    token = api.token()
    path = full(api, "cluster/{fsid}/osd")
    with serving(api.app) as port:
        get(port, path, token)
        before = get(port, path, token)
        api.feed("06")  # osd.2 marked out
        after = get(port, path, token)
    assert [o["in"] for o in orjson.loads(after[2])] != [o["in"] for o in orjson.loads(before[2])]
    assert after[1]["etag"] != before[1]["etag"]


def test_nothing_is_answered_from_the_cache_while_the_model_is_being_changed(api):
    token = api.token()
    path = full(api, "cluster/{fsid}/pool")
    with serving(api.app) as port:
        get(port, path, token)
        get(port, path, token)
        hits = cache(api).hits
        with api.service.lock:  # as a change does
            status, _, _ = get(port, path, token)
        assert status == 200 and cache(api).hits == hits  # the app answered it


def test_the_collectors_contact_age_is_never_stale(api):
    token = api.token()
    path = full(api, "cluster/{fsid}")
    with api.service.lock:
        api.service.model.last_contact[api.fsid] = time.time() - 5
    hits = cache(api).hits
    with serving(api.app) as port:
        for _ in range(3):
            started = time.time()
            status, _, body = get(port, path, token)
            ended = time.time()
            last = api.service.model.last_contact[api.fsid]
            assert status == 200
            assert round(started - last, 1) <= orjson.loads(body)["age_s"] <= round(ended - last, 1)
            time.sleep(0.2)  # the age moves on: a kept answer must not show the old one
    assert cache(api).hits == hits + 2  # kept, with the age rendered anew


def test_another_role_never_gets_a_kept_answer(api):
    path = full(api, "cluster/{fsid}/osd")
    with serving(api.app) as port:
        get(port, path, api.token("admin"))
        get(port, path, api.token("admin"))
        hits = cache(api).hits
        status, _, _ = get(port, path, api.token("viewer"))
        assert status == 200 and cache(api).hits == hits  # made by the app for this role
        get(port, path, api.token("viewer"))
        assert cache(api).hits == hits + 1
    roles = {key[-1] for key in cache(api)._answers}
    assert roles == {"admin", "read-only"}


@pytest.mark.parametrize("credentials", [
    {"Authorization": "Bearer not-a-token"},
    {"Authorization": "Basic YWRtaW46eA=="},
    {"Authorization": "Bearer "},
    {},
    {"Cookie": "calamari_session=not-a-token"},
])
def test_a_caller_the_app_refuses_is_refused_on_a_kept_route(api, credentials):
    path = full(api, "cluster/{fsid}/osd")
    with serving(api.app) as port:
        get(port, path, api.token())
        get(port, path, api.token())  # kept
        status, _, body = get(port, path, headers=credentials)
    assert status == 401 and b"detail" in body


def test_a_revoked_token_or_session_never_gets_a_kept_answer(api):
    path = full(api, "cluster/{fsid}/osd")
    login = api.client.post("/api/v2/auth/login", json={"username": "viewer", "password": "correct-horse-1"})
    cookie_token = login.json["token"]
    bearer = api.client.post("/api/v2/auth/login", json={"username": "viewer", "password": "correct-horse-1"}).json
    with serving(api.app) as port:
        for _ in range(2):
            assert get(port, path, bearer["token"])[0] == 200
            assert get(port, path, headers={"Cookie": f"calamari_session={cookie_token}"})[0] == 200
        hits = cache(api).hits
        assert hits >= 2
        api.client.post("/api/v2/auth/logout", headers={"Authorization": f"Bearer {bearer['token']}"})
        api.client.post("/api/v2/auth/logout", headers={"Authorization": f"Bearer {cookie_token}"})
        assert get(port, path, bearer["token"])[0] == 401
        assert get(port, path, headers={"Cookie": f"calamari_session={cookie_token}"})[0] == 401
        api.auth.delete_user("oper", "admin")  # a deleted user's token too
        assert get(port, path, api.tokens.get("oper") or "x")[0] == 401
    assert cache(api).hits == hits


def test_conditional_requests_and_other_methods_go_to_the_app(api):
    token = api.token()
    path = full(api, "cluster/{fsid}/osd")
    with serving(api.app) as port:
        _, headers, _ = get(port, path, token)
        get(port, path, token)
        hits = cache(api).hits
        status, _, body = get(port, path, token, headers={"If-None-Match": headers["etag"]})
        assert status == 304 and body == b""
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=LIVENESS_S)
        connection.request("HEAD", path, headers={"Authorization": f"Bearer {token}"})
        head = connection.getresponse()
        assert head.status == 200 and head.read() == b""
        connection.close()
    assert cache(api).hits == hits


def test_an_answer_at_once_needs_no_worker_thread(api):
    """With the only worker thread held, a kept answer still comes, and a request behind it on the
    same connection is answered in order once the worker is free."""
    token = api.token()
    path = full(api, "cluster/{fsid}/mon")
    release = threading.Event()
    held = threading.Event()
    inner = api.app.wsgi_app
    app_calls = []

    def blocking(environ, start_response):
        app_calls.append(environ["PATH_INFO"])
        if environ["PATH_INFO"] == "/block":
            held.set()
            release.wait(LIVENESS_S)
            start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "7")])
            return [b"blocked"]
        return inner(environ, start_response)

    api.app.wsgi_app = blocking
    try:
        with serving(api.app, threads=1) as port:
            get(port, path, token)  # kept
            blocker = threading.Thread(target=get, args=(port, "/block"), daemon=True)
            blocker.start()
            assert held.wait(LIVENESS_S)
            status, _, body = get(port, path, token)  # the only worker is busy
            assert status == 200 and orjson.loads(body)[0]["name"]
            # pipelined: a kept answer, answered at once while the worker is still held; the two
            # behind it wait for the worker thread, in order
            host = f"127.0.0.1:{port}"
            head = f"HTTP/1.1\r\nHost: {host}\r\nAccept-Encoding: identity\r\nAuthorization: Bearer {token}\r\n\r\n"
            with socket.create_connection(("127.0.0.1", port), timeout=LIVENESS_S) as sock:
                sock.sendall(f"GET {path} {head}GET {full(api, 'info')} {head}GET {path} {head}".encode())
                stream = sock.makefile("rb")
                answers = [read_answer(stream)]
                release.set()
                answers += [read_answer(stream), read_answer(stream)]
            blocker.join(LIVENESS_S)
    finally:
        api.app.wsgi_app = inner
    assert [status for status, _ in answers] == [200, 200, 200]
    # the app ran for the first request and the last (queued behind a worker's), never for the others
    assert app_calls.count(path) == 2
    assert answers[0][1] == answers[2][1] == body and b"version" in answers[1][1]


def test_http_1_0_and_connection_close_are_honoured(api):
    token = api.token()
    path = full(api, "cluster/{fsid}/pool")
    with serving(api.app) as port:
        get(port, path, token)
        for request in (f"GET {path} HTTP/1.0\r\nAuthorization: Bearer {token}\r\n\r\n",
                        f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {token}\r\n\r\n"):
            with socket.create_connection(("127.0.0.1", port), timeout=LIVENESS_S) as sock:
                sock.sendall(request.encode())
                received = b""
                while chunk := sock.recv(65536):  # ends only when the server closes
                    received += chunk
            head, _, body = received.partition(b"\r\n\r\n")
            assert head.split(b" ")[1] == b"200" and orjson.loads(body)


def test_the_change_lock_counts_each_outermost_hold_twice():
    lock = ChangeLock()
    assert lock.changes == 0
    with lock:
        assert lock.changes == 1  # odd: held
        with lock:
            assert lock.changes == 1  # re-entered: the same hold
        assert lock.changes == 1
    assert lock.changes == 2
    assert lock.acquire(blocking=False)
    lock.release()
    assert lock.changes == 4


def test_the_cluster_answer_is_the_cluster_document_as_before(api):
    """The cluster's body is written in parts around its live contact: the same bytes as the whole
    document written at once."""
    from calamari.domain.documents import cluster_document, contact_age

    for last in (None, time.time() - 3):
        with api.service.lock:
            if last is None:
                api.service.model.last_contact.pop(api.fsid, None)
            else:
                api.service.model.last_contact[api.fsid] = last
        answer = api.call("GET", "cluster/{fsid}")
        age = orjson.loads(answer.data)["age_s"]
        contact = contact_age(last, last + age) if last is not None else contact_age(None, 0)
        document = cluster_document(api.service.view.clusters[api.fsid], api.service.view.counters(api.fsid), contact)
        assert answer.data == orjson.dumps(document, option=orjson.OPT_NON_STR_KEYS)


def test_a_live_answer_that_compression_would_take_goes_to_the_app(api):
    """A kept answer whose live part grows it past the compression threshold is not sent as kept:
    the app compresses it, as it would have."""
    from calamari.api import answers, compression

    token = api.token()
    path = full(api, "cluster/{fsid}")
    with serving(api.app) as port:
        _, _, body = get(port, path, token, "gzip")
        kept = next(v for k, v in cache(api)._answers.items() if k[0] == path and k[7] == "gzip")
        assert isinstance(kept, answers._LiveAnswer) and kept.gzip_from == compression.MIN_SIZE
        hits = cache(api).hits
        padding = compression.MIN_SIZE - len(body) + 1  # a live part this much longer crosses it
        live = kept.live
        cache(api)._answers[next(k for k, v in cache(api)._answers.items() if v is kept)] = \
            answers._LiveAnswer(kept.stamp, kept.status, kept.headers, kept.before, kept.after,
                                lambda calamari, args: live(calamari, args) + b" " * padding, kept.view_args,
                                kept.gzip_from)
        status, headers, _ = get(port, path, token, "gzip")
    assert status == 200 and cache(api).hits == hits and headers.get("content-encoding") is None


def test_kept_answers_stay_within_their_bounds(api):
    """At most MAX_BYTES of bodies (least recently used dropped first), none over MAX_ANSWER."""
    from calamari.api.answers import AnswerCache, _Answer

    small = AnswerCache(api.app, lambda: 0, max_bytes=3000, max_answer=1500)
    for n in range(10):
        small._put((f"/p{n}", "", None, None, None, None, None, "", "admin"),
                   _Answer(0, "200 OK", (), b"x" * 1000))
    assert small._size <= 3000 and len(small._answers) == 3
    assert [key[0] for key in small._answers] == ["/p7", "/p8", "/p9"] and set(small._paths) == {"/p7", "/p8", "/p9"}
    token = api.token()
    path = full(api, "cluster/{fsid}/osd")
    api.app.extensions["calamari_answers"].max_answer = 10  # every OSD list is larger
    with serving(api.app) as port:
        get(port, path, token)
        hits = cache(api).hits
        assert get(port, path, token)[0] == 200
    assert cache(api).hits == hits and not any(key[0] == path for key in cache(api)._answers)


def test_a_hold_that_changed_nothing_gives_the_count_back():
    lock = ChangeLock()
    with lock:
        lock.unchanged()
        assert lock.changes == 1  # odd while held all the same
    assert lock.changes == 0
    with lock:
        with lock:
            lock.unchanged()  # an inner hold cannot speak for the outer one
    assert lock.changes == 2


def test_reading_sync_objects_and_an_idle_contact_check_keep_answers_valid(api):
    """The bus's reads of the held versions and the contact check with nobody late take the lock
    without changing anything: they must not empty the cache every second."""
    from datetime import UTC, datetime

    count = api.service.lock.changes
    api.service.sync_versions(api.fsid)
    api.service.sync_object(api.fsid, "osd_map")
    api.service.sync_wanted(api.fsid, {"osd_map": 1})
    api.service.check_contact(datetime.now(UTC), 30.0)
    assert api.service.lock.changes == count
    with api.service.lock:
        api.service.model.last_contact[api.fsid] = 0.0  # long ago: the check finds the contact lost
    count = api.service.lock.changes
    api.service.check_contact(datetime.now(UTC), 30.0)
    assert api.service.lock.changes == count + 2
    assert api.call("GET", "cluster/{fsid}").json["stale"] is True


def test_holds_that_only_read_keep_answers_valid(api):
    """An alert pass that finds nothing, a scrape of /metrics, the event list and the alert and
    notification lists take the model's lock to read it: a change made by none of them must not
    throw the kept answers away (each would, every second or every scrape)."""
    token = api.token()
    alerting, notifier = api.services.alerting, api.services.notifier
    assert alerting is not None and notifier is not None
    path = full(api, "cluster/{fsid}/osd/0")
    alerting.evaluate_all()  # whatever the capture raises is raised now, not during the reads below
    with serving(api.app) as port:
        get(port, path, token)
        count, hits = api.service.lock.changes, cache(api).hits
        alerting.evaluate_all()
        alerting.evaluate_changes()
        alerting.alerts()
        notifier.channels()
        notifier.notifications()
        for read in ("/metrics", "/api/v2/event", "/api/v2/alert", "/api/v2/notification",
                     f"/api/v2/cluster/{api.fsid}/log"):
            status, _, _ = get(port, read, token)
            assert status == 200, read
        assert api.service.lock.changes == count
        status, _, _ = get(port, path, token)
        assert status == 200 and cache(api).hits == hits + 1  # still the kept answer


def test_a_reading_hold_that_commits_or_a_durable_change_still_counts(api):
    count = api.service.lock.changes
    with api.service.reading() as model:
        model.heartbeat(api.fsid, "node0000", datetime.now(UTC))
        api.service.commit()  # a batch projected within the hold: answers made before may be stale
    assert api.service.lock.changes == count + 2
    count = api.service.lock.changes
    with api.service.durable():
        pass  # nothing to change
    assert api.service.lock.changes == count
    with api.service.durable():
        with api.service.reading():
            api.service.model.heartbeat(api.fsid, "node0000", datetime.now(UTC))
            api.service.commit()  # a nested commit, then nothing left for the durable block to store
    assert api.service.lock.changes == count + 2
