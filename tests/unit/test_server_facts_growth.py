"""A host's facts make an event only when they change: the boot time a host reports moves with its
clock (NTP steps /proc/stat's btime), and a simulated host once reported a new one every time, which
made one ServerFactsChanged per host per report (8.4 million events a day at 1,000 hosts)."""

from datetime import UTC, datetime, timedelta

from calamari.domain.model import ClusterModel
from calamari.domain.server import BOOT_TIME_JITTER_S, Server, facts_changed
from collector.simulator import SimulatedCluster

SPEC = "hosts=6,osds=18,pools=3,pgs=192,seed=5,churn=0.05"


class StepClock:
    def __init__(self) -> None:
        self.now = 1_790_000_000.0

    def __call__(self) -> float:
        self.now += 7.0
        return self.now


def facts_events(model: ClusterModel) -> list:
    return [e for e in model.drain() if isinstance(e, Server.ServerFactsChanged)]


def test_simulated_hosts_report_the_same_boot_time_every_time() -> None:
    cluster = SimulatedCluster(SPEC, clock=StepClock())
    first = dict(cluster.server_facts())
    for _ in range(20):
        cluster.poll()
    again = dict(cluster.server_facts())
    assert {h: f["boot_time"] for h, f in again.items()} == {h: f["boot_time"] for h, f in first.items()}


def test_repeated_reports_of_a_simulated_cluster_make_no_facts_events() -> None:
    cluster = SimulatedCluster(SPEC, clock=StepClock())
    model = ClusterModel()
    at = datetime(2026, 11, 30, tzinfo=UTC)
    for _, facts in cluster.server_facts():
        model.server_facts(cluster.fsid, facts, at)
    assert len(facts_events(model)) == 6  # each host's facts once
    for tick in range(1, 30):
        cluster.poll()
        for _, facts in cluster.server_facts():
            model.server_facts(cluster.fsid, facts, at + timedelta(seconds=tick))
    assert facts_events(model) == []


def test_a_boot_time_that_jitters_is_the_same_boot_and_a_reboot_is_a_change() -> None:
    model = ClusterModel()
    at = datetime(2026, 11, 30, tzinfo=UTC)
    facts = {"fqdn": "node1.example.com", "hostname": "node1", "boot_time": 1_700_000_000.0, "kernel": "6.1",
             "services": []}
    model.server_facts(None, facts, at)
    assert len(facts_events(model)) == 1
    for jitter in (1.0, -1.0, 0.5, BOOT_TIME_JITTER_S, -BOOT_TIME_JITTER_S):
        model.server_facts(None, dict(facts, boot_time=facts["boot_time"] + jitter), at)
    assert facts_events(model) == []
    rebooted = dict(facts, boot_time=facts["boot_time"] + 3600)
    model.server_facts(None, rebooted, at)
    (changed,) = facts_events(model)
    assert changed.facts["boot_time"] == rebooted["boot_time"]
    model.server_facts(None, dict(facts, boot_time=facts["boot_time"] + 3600, kernel="6.2"), at)
    assert len(facts_events(model)) == 1  # any other field still counts


def test_facts_changed_compares_every_field() -> None:
    held = {"boot_time": 100.0, "kernel": "6.1", "cpu_count": 4}
    assert not facts_changed(held, dict(held))
    assert not facts_changed(held, dict(held, boot_time=130.0))
    assert facts_changed(held, dict(held, boot_time=100.0 + BOOT_TIME_JITTER_S + 1))
    assert facts_changed(held, dict(held, cpu_count=8))
    assert facts_changed(held, {"boot_time": 100.0, "kernel": "6.1"})
    assert facts_changed(held, dict(held, boot_time="100"))
    assert facts_changed({}, held)
