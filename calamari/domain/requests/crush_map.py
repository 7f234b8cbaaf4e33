"""Planning the replacement of the whole CRUSH map by a text: the text checked line by line (before
the model's lock is taken), the pools' rules kept, the map Ceph holds required unchanged."""

from __future__ import annotations

from calamari.crush.model import CrushText, CrushTextError
from calamari.crush.text_parse import parse_crush_text
from calamari.domain.model import ClusterModel
from calamari.domain.requests.cluster_facts import live_pools
from calamari.domain.requests.conflicts import CRUSH_MAP_TARGET
from calamari.domain.requests.crush_view import crush_view
from calamari.domain.requests.plan import Plan, RequestRejected, command

MAX_CRUSH_TEXT_ERRORS = 100  # reasons a 400 lists (a large bad map may have one on every line)


def check_crush_map_text(text: str) -> CrushText:
    """The parsed map of a CRUSH text; RequestRejected naming the bad lines (the first
    MAX_CRUSH_TEXT_ERRORS of them) otherwise. Needs no model: call it before taking the lock."""
    try:
        return parse_crush_text(text)
    except CrushTextError as err:
        errors: dict[str, str] = {}
        for message in err.errors[:MAX_CRUSH_TEXT_ERRORS]:
            where, _, reason = message.partition(": ")
            errors[where] = f"{errors[where]}; {reason}" if where in errors else reason
        if len(err.errors) > MAX_CRUSH_TEXT_ERRORS:
            errors["more"] = f"{len(err.errors) - MAX_CRUSH_TEXT_ERRORS} more problems not listed"
        raise RequestRejected("invalid CRUSH map", errors) from None


def plan_crush_map_set(model: ClusterModel, fsid: str, text: str, parsed: CrushText | None = None) -> Plan:
    """Replace the whole CRUSH map with `text` (crushtool's text form): checked here line by line
    (`parsed`: what check_crush_map_text gave for it, if called already), compiled by the collector,
    set with `osd setcrushmap` only if the map Ceph holds is still the version this plan was made
    against (prior_version)."""
    crush_view(model, fsid)  # 503 until a CRUSH map has arrived
    held = model.held.get(fsid, {}).get("crush_map")
    if held is None:  # restarted: the CRUSH aggregate is back from the events, the map not yet
        raise RequestRejected("the CRUSH map has not been received yet; retry shortly", status=503)
    version = int(held[0])
    if parsed is None:
        parsed = check_crush_map_text(text)
    rule_ids = {r.id for r in parsed.rules}
    missing = {}
    for pool in sorted(live_pools(model, fsid).values(), key=lambda p: p.name):
        rule_id = pool.settings.get("crush_rule")
        if rule_id is not None and rule_id not in rule_ids:
            missing[f"pool {pool.name}"] = f"uses CRUSH rule id {rule_id}, which the new map does not have"
    if missing:
        raise RequestRejected("the new CRUSH map lacks rules that pools use", missing, 409)
    setcrushmap = command("osd setcrushmap", prior_version=version)
    setcrushmap["input"] = text  # compiled by the collector, sent to Ceph as the command's input
    buckets = sorted(b.name for b in parsed.buckets)
    rules = sorted(r.name for r in parsed.rules)
    return Plan("update", f"Replacing the CRUSH map (version {version})", [CRUSH_MAP_TARGET], [setcrushmap],
                [{"check": "crush_map", "after_version": version, "buckets": buckets, "rules": rules}],
                {"prior_version": version, "buckets": len(buckets), "rules": len(rules),
                 "devices": len(parsed.devices)})
