"""The CRUSH map as text against a real Ceph 16.2 cluster: GET equals what `ceph osd getcrushmap`
decompiled by crushtool gives; a POSTed map (a new rack under default, a renamed rule) is compiled
by the collector, set with `osd setcrushmap` and completes once a CRUSH map showing it has arrived;
the original is then POSTed back, leaving the shared cluster as it was."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from crush_live import crush_live_fixture

from calamari.testing.live import ApiClient, DevCluster, wait_for

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(shutil.which("crushtool") is None, reason="crushtool is not installed (Debian: ceph-base)")]


live = crush_live_fixture("calamari-crush-text", "crush_rule")


def decompiled(cluster: DevCluster, work: Path) -> str:
    """The cluster's CRUSH map as `ceph osd getcrushmap -o F` + `crushtool -d F` give it."""
    binary = work / "crushmap.bin"
    subprocess.run(["ceph", "--conf", cluster.conf, "--connect-timeout", "20", "osd", "getcrushmap", "-o",
                    str(binary)], env=cluster.env, check=True, capture_output=True, timeout=60)
    return subprocess.run(["crushtool", "-d", str(binary)], check=True, capture_output=True, text=True,
                          timeout=60).stdout


def normalised(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


def settled_text(api: ApiClient, cluster: DevCluster, fsid: str, work: Path) -> tuple[str, str]:
    """The API's text and the cluster's, once the API holds the cluster's current CRUSH version."""
    def same() -> tuple[str, str] | None:
        ours, theirs = api.get(f"/cluster/{fsid}/crush_map"), decompiled(cluster, work)
        return (ours, theirs) if normalised(ours) == normalised(theirs) else None
    return wait_for(same, 60, "the API's CRUSH text to equal the cluster's")


def test_text_equals_crushtool_and_a_posted_map_is_set(live: tuple[DevCluster, ApiClient, str],
                                                       tmp_path: Path) -> None:
    cluster, api, fsid = live
    c = f"/cluster/{fsid}"
    original, theirs = settled_text(api, cluster, fsid, tmp_path)
    assert original == theirs  # exactly, not only after normalising whitespace
    rule = cluster.ceph("osd", "crush", "rule", "ls")[0]
    assert f"rule {rule} {{" in original

    rack = "rack rack-text {\n\tid -90\n\talg straw2\n\thash 0\n}\n"
    # the rack is defined before the root that holds it: crushtool reads no forward references
    head, _, tail = original.partition("root default {\n")
    body, _, rest = tail.partition("}\n")
    changed = head + rack + "root default {\n" + body + "\titem rack-text weight 0.000\n}\n" + rest
    changed = changed.replace(f"rule {rule} {{", "rule renamed-by-text {", 1)
    row = api.wait_request(api.submit("POST", f"{c}/crush_map", {"crush_map": changed}))
    assert row["error"] is False, row["error_message"]

    dump = cluster.ceph("osd", "crush", "dump")
    buckets = {b["name"]: b for b in dump["buckets"]}
    assert buckets["rack-text"]["type_name"] == "rack" and buckets["rack-text"]["id"] == -90
    assert any(i["id"] == -90 for i in buckets["default"]["items"])
    assert [r["rule_name"] for r in dump["rules"]][0] == "renamed-by-text"
    assert "rack rack-text {" in api.get(f"{c}/crush_map")  # complete: the API already shows it

    row = api.wait_request(api.submit("POST", f"{c}/crush_map", {"crush_map": original}))
    assert row["error"] is False, row["error_message"]
    restored, theirs = settled_text(api, cluster, fsid, tmp_path)
    assert restored == original == theirs
    assert "rack-text" not in {b["name"] for b in cluster.ceph("osd", "crush", "dump")["buckets"]}
