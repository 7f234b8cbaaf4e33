"""The fqdn a collector reports for its host: what getfqdn() says, except a loopback name, which
getfqdn() answers when /etc/hosts lists the host name after `localhost` on a loopback line (then
every such host would be one server named `localhost`): the configured host name instead."""

import socket

import pytest

from collector import host


@pytest.mark.parametrize("getfqdn, gethostname, expected", [
    ("stor7.example.net", "stor7", "stor7.example.net"),
    ("localhost", "stor7", "stor7"),
    ("localhost.localdomain", "stor7.example.net", "stor7.example.net"),
    ("ip6-localhost", "stor7", "stor7"),
    ("", "stor7", "stor7"),
    ("localhost", "", "localhost"),
])
def test_fqdn(monkeypatch, getfqdn, gethostname, expected):
    monkeypatch.setattr(socket, "getfqdn", lambda *a: getfqdn)
    monkeypatch.setattr(socket, "gethostname", lambda: gethostname)
    assert host.fqdn() == expected
    assert host.local_facts([])["fqdn"] == expected


# ---------------------------------------------------------------- the server side of the change

def _facts(fqdn, services):
    return {"fqdn": fqdn, "hostname": "vm", "services": services}


def test_a_host_known_as_localhost_becomes_its_own_name_with_its_services(tmp_path):
    """What the server holds for a host whose collector reported `localhost` (the OSD metadata's
    short name `vm` merged into it) follows the fixed collector's report under `vm`: that
    server comes back with every service, and `localhost` is retired (and survives a restart)."""
    from datetime import UTC, datetime, timedelta

    from calamari.domain.ingest.osd_metadata import diff_osd_services
    from calamari.service.model import ModelService, ServiceConfig

    fsid = "c380fe36-06f4-413f-9fc1-b595ee41a757"
    t0 = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    mon = {"fsid": fsid, "type": "mon", "id": "a", "running": True, "version": "16.2.15"}
    svc = ModelService(ServiceConfig(data_dir=str(tmp_path)))
    model = svc.model
    with svc.lock:
        # the OSD metadata names host 'vm' first; the old collector then reports 'localhost'
        diff_osd_services(model, fsid, {"vm": [0, 1]}, t0)
        model.server_facts(fsid, _facts("localhost", [mon]), t0 + timedelta(seconds=1))
        assert model.servers["vm"].merged_into == "localhost"
        # the fixed collector reports 'vm'
        model.server_facts(fsid, _facts("vm", [mon]), t0 + timedelta(seconds=20))
        diff_osd_services(model, fsid, {"vm": [0, 1]}, t0 + timedelta(seconds=21))
        svc.commit()
    assert set(svc.view.servers) == {"vm"}
    names = sorted(f"{s['type']}.{s['id']}" for s in svc.view.servers["vm"]["services"])
    assert names == ["mon.a", "osd.0", "osd.1"]
    assert model.servers["localhost"].merged_into == "vm" and model.servers["vm"].merged_into is None
    svc.writer.flush(10)
    svc.close()
    again = ModelService(ServiceConfig(data_dir=str(tmp_path)))
    try:
        assert set(again.view.servers) == {"vm"}
        assert len(again.view.servers["vm"]["services"]) == 3
    finally:
        again.close()


def test_two_real_names_of_one_short_name_are_not_merged(tmp_path):
    from datetime import UTC, datetime, timedelta

    from calamari.service.model import ModelService, ServiceConfig

    t0 = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    svc = ModelService(ServiceConfig(data_dir=str(tmp_path)))
    try:
        with svc.lock:
            svc.model.server_facts(None, _facts("vm.dc1.example", []), t0)
            svc.model.server_facts(None, _facts("vm.dc2.example", []), t0 + timedelta(seconds=1))
            svc.commit()
        assert set(svc.view.servers) == {"vm.dc1.example", "vm.dc2.example"}
    finally:
        svc.close()
