"""The Prometheus rules file of the built-in alert rules: the committed copy is what
`calamari-ctl alerts prometheus-rules` prints, every metric it names is one /metrics serves
(read with prometheus_client's parser), and promtool, where installed, accepts it and fires its
OSD-down rule on a down OSD's series only after the rule's duration."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from api_support import harness_fixture
from prometheus_client.parser import text_string_to_metric_families

from calamari.domain.alerts.prometheus_rules import rules_file
from calamari.domain.alerts.rules import BUILTIN_RULES
from calamari.service.alerts_cli import prometheus_rules_text

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "docs" / "prometheus" / "calamari-alerts.yml"
PROMQL_KEYWORDS = {"sum", "by", "count", "max", "on", "group_left", "floor", "and", "or", "unless", "name"}

api = harness_fixture(scope="module", timeseries=True)


def test_the_committed_file_is_current() -> None:
    assert COMMITTED.read_text() == prometheus_rules_text(), (
        "regenerate: calamari-ctl alerts prometheus-rules --output docs/prometheus/calamari-alerts.yml")


def test_the_command_prints_it_without_a_data_dir(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "calamari.service.ctl", "--data-dir", str(tmp_path / "none"),
                           "alerts", "prometheus-rules"], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert yaml.safe_load(done.stdout) == rules_file()


def test_each_rule_is_well_formed() -> None:
    document = yaml.safe_load(COMMITTED.read_text())
    [group] = document["groups"]
    names = [r["labels"]["rule"] for r in group["rules"]]
    assert len(names) == len(set(names)) and set(names) <= set(BUILTIN_RULES)
    assert {"osd_down", "host_osds_down", "health_error", "mon_quorum_lost", "pgs_inactive"} <= set(names)
    for entry in group["rules"]:
        rule = BUILTIN_RULES[entry["labels"]["rule"]]
        assert re.fullmatch(r"(\d+h)?(\d+m)?(\d+s)?", entry["for"]) and entry["for"]
        assert entry["labels"]["severity"] == rule.severity
        assert entry["annotations"]["summary"] == rule.summary


def metric_names(expr: str) -> set[str]:
    without_labels = re.sub(r"\{[^}]*\}|\b(by|on|group_left|without|ignoring)\s*\([^)]*\)", "", expr)
    return {w for w in re.findall(r"[a-z_][a-z0-9_]*", without_labels) if w not in PROMQL_KEYWORDS}


def test_every_metric_it_names_is_served_by_metrics(api: Any) -> None:
    r = api.client.get("/metrics", headers={"Authorization": f"Bearer {api.token()}"})
    assert r.status_code == 200
    served = {family.name for family in text_string_to_metric_families(r.data.decode())}
    used = set().union(*(metric_names(e["expr"]) for e in rules_file()["groups"][0]["rules"]))
    assert used and used <= served, f"not served by /metrics: {sorted(used - served)}"


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian's prometheus) is not installed")
def test_promtool_checks_the_file() -> None:
    done = subprocess.run(["promtool", "check", "rules", str(COMMITTED)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(rules_file()['groups'][0]['rules'])} rules found" in done.stdout


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian's prometheus) is not installed")
def test_promtool_fires_osd_down_after_its_duration(tmp_path: Path) -> None:
    minutes = int(BUILTIN_RULES["osd_down"].for_seconds // 60)
    labels = '{fsid="f", ceph_daemon="osd.1"}'
    tests = {"rule_files": [str(COMMITTED)], "evaluation_interval": "1m", "tests": [{
        "interval": "1m",
        "input_series": [{"series": f"ceph_osd_up{labels}", "values": f"1 0x{minutes + 5}"}],
        "alert_rule_test": [
            {"eval_time": f"{minutes - 1}m", "alertname": "CalamariOsdDown", "exp_alerts": []},
            {"eval_time": f"{minutes + 2}m", "alertname": "CalamariOsdDown", "exp_alerts": [{
                "exp_labels": {"fsid": "f", "ceph_daemon": "osd.1", "severity": "warning", "type": "calamari",
                               "rule": "osd_down"},
                "exp_annotations": {"summary": BUILTIN_RULES["osd_down"].summary,
                                    "description": BUILTIN_RULES["osd_down"].description}}]},
        ]}]}
    path = tmp_path / "tests.yml"
    path.write_text(yaml.safe_dump(tests))
    done = subprocess.run(["promtool", "test", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
