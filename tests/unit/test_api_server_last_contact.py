"""`last_contact` of a server is when its collector was last heard from (heartbeats and facts),
not the time of the server's last change: facts that do not change leave no event, and an
operator must not read a live host as silent for minutes."""

from datetime import UTC, datetime, timedelta

from api_support import harness_fixture

FQDN = "stor1.example.net"


api = harness_fixture(steps=("00",))


def test_last_contact_follows_heartbeats_under_the_hello_name(api):
    start = datetime.now(UTC) - timedelta(minutes=10)
    facts = {"fqdn": FQDN, "hostname": "stor1", "services": [{"fsid": api.fsid, "type": "mon", "id": "a"}]}
    api.service.on_server_facts(api.fsid, facts, start)
    api.service.on_server_facts(api.fsid, facts, start + timedelta(minutes=1))  # unchanged: no event
    heard = start + timedelta(minutes=9)
    api.service.on_heartbeat(api.fsid, "stor1", heard)
    for path in (f"server/{FQDN}", f"cluster/{{fsid}}/server/{FQDN}"):
        row = api.call("GET", path).json
        assert row["last_contact"] == heard.isoformat(), path
    rows = [r for r in api.call("GET", "server").json if r["fqdn"] == FQDN]
    assert rows[0]["last_contact"] == heard.isoformat()
    assert [r for r in api.call("GET", "cluster/{fsid}/server").json if r["fqdn"] == FQDN][0]["last_contact"] \
        == heard.isoformat()


def test_losing_contact_does_not_move_last_contact(api):
    start = datetime.now(UTC) - timedelta(minutes=10)
    api.service.on_server_facts(api.fsid, {"fqdn": FQDN, "hostname": "stor1", "services": []}, start)
    api.service.check_contact(start + timedelta(minutes=5), 30)  # a ServerContactLost event, 5 min later
    row = api.call("GET", f"server/{FQDN}").json
    assert row["contact_lost"] is True and row["last_contact"] == start.isoformat()
