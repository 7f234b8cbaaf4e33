"""A collector says hello and heartbeats under its short host name (`vm`) but reports its facts
under its fqdn (`vm.example.com`, or whatever getfqdn gives): its heartbeats keep that server in
contact, so after a server restart a host whose collector dies before sending facts again is
still marked lost, and comes back with the collector's next heartbeat."""

from datetime import UTC, datetime, timedelta

from calamari.service.model import ModelService, ServiceConfig

T0 = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
FQDN = "vm.example.com"


def service(data_dir: str) -> ModelService:
    return ModelService(ServiceConfig(data_dir=data_dir))


def test_heartbeats_under_the_hello_name_count_for_the_fqdn_server_across_a_restart(tmp_path) -> None:
    first = service(str(tmp_path))
    first.on_server_facts(None, {"fqdn": FQDN, "hostname": "vm", "services": []}, T0)
    first.on_heartbeat(None, "vm", T0 + timedelta(seconds=5))
    first.writer.flush(10)
    first.close()

    again = service(str(tmp_path))  # restarted: contact times are not stored
    try:
        assert again.model.servers[FQDN].managed
        again.on_heartbeat(None, "vm", T0 + timedelta(seconds=60))  # the collector, before its next facts
        again.check_contact(T0 + timedelta(seconds=80), 30)
        assert again.model.servers[FQDN].contact_lost is False
        # the collector stops: no facts, no heartbeats
        again.check_contact(T0 + timedelta(seconds=120), 30)
        assert again.model.servers[FQDN].contact_lost is True
        again.on_heartbeat(None, "vm", T0 + timedelta(seconds=130))
        assert again.model.servers[FQDN].contact_lost is False
        assert again.view.servers[FQDN]["contact_lost"] is False
    finally:
        again.close()


def test_a_hello_name_that_is_no_server_still_counts_only_for_itself(tmp_path) -> None:
    svc = service(str(tmp_path))
    try:
        svc.on_server_facts(None, {"fqdn": FQDN, "hostname": "vm", "services": []}, T0)
        svc.on_heartbeat(None, "other", T0 + timedelta(seconds=60))  # another collector's name
        svc.check_contact(T0 + timedelta(seconds=80), 30)
        assert svc.model.servers[FQDN].contact_lost is True
    finally:
        svc.close()
