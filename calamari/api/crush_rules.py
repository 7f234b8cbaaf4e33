"""CRUSH rules of a cluster: the list, one rule, rules by ruleset, and creating, renaming and
deleting a rule (202: a request)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from calamari.api.answers import cacheable
from calamari.api.common import doc, json_response, parse_body, services, submit_plan
from calamari.api.lookup import cluster_model, first
from calamari.api.response_schemas import ACCEPTED, LIST, OBJECT
from calamari.api.schemas import CRUSH_RULE_READ_ONLY, CRUSH_RULE_UPDATE_READ_ONLY, CrushRuleCreate, CrushRuleUpdate
from calamari.domain.documents import (
    crush_rule_document,
    crush_rule_documents,
    osds_under,
    rule_root,
    ruleset_documents,
)
from calamari.domain.requests import plan_crush_rule_create, plan_crush_rule_delete, plan_crush_rule_update

blueprint = Blueprint("crush_rules", __name__, url_prefix="/api/v2")


def _osds(fsid: str) -> list[dict[str, Any]]:
    return list(services().service.view.osds.get(fsid, {}).values())


def _rules(fsid: str) -> list[dict[str, Any]]:
    return crush_rule_documents(cluster_model(fsid).crush, _osds(fsid))


@blueprint.get("/cluster/<fsid>/crush_rule")
@doc("CRUSH rules", response=LIST, errors=(401, 404))
@cacheable()
def crush_rules(fsid: str) -> Response:
    return json_response(_rules(fsid))


@blueprint.get("/cluster/<fsid>/crush_rule/<int:rule_id>")
@doc("One CRUSH rule", response=OBJECT, errors=(401, 404))
def crush_rule(fsid: str, rule_id: int) -> Response:
    rules = cluster_model(fsid).crush.get("rules", [])
    rule = first(rules, lambda r: r["rule_id"] == rule_id, f"no CRUSH rule {rule_id}")
    # only the OSDs under this rule's root are counted
    return json_response(crush_rule_document(rule, osds_under(_osds(fsid), rule_root(rule))))


@blueprint.get("/cluster/<fsid>/crush_rule_set")
@doc("CRUSH rules grouped by ruleset", response=LIST, errors=(401, 404))
def crush_rule_sets(fsid: str) -> Response:
    return json_response(ruleset_documents(_rules(fsid)))


@blueprint.post("/cluster/<fsid>/crush_rule")
@doc("Create a CRUSH rule: replicated (root, failure_domain, device_class) or erasure (from an "
     "erasure_code_profile) (202: a request)", body=CrushRuleCreate, status=202, response=ACCEPTED,
     errors=(400, 401, 403, 404, 409, 503))
def create_crush_rule(fsid: str) -> Response:
    body = parse_body(CrushRuleCreate, read_only=CRUSH_RULE_READ_ONLY)
    return submit_plan(fsid, plan_crush_rule_create, body.model_dump(exclude_none=True))


@blueprint.patch("/cluster/<fsid>/crush_rule/<int:rule_id>")
@doc("Rename a CRUSH rule, the only change Ceph allows (202: a request; 304 when the name is the same)",
     body=CrushRuleUpdate, status=202, response=ACCEPTED, errors=(400, 401, 403, 404, 409, 503))
def update_crush_rule(fsid: str, rule_id: int) -> Response:
    body = parse_body(CrushRuleUpdate, read_only=CRUSH_RULE_UPDATE_READ_ONLY)
    return submit_plan(fsid, plan_crush_rule_update, rule_id, body.model_dump(exclude_none=True))


@blueprint.delete("/cluster/<fsid>/crush_rule/<int:rule_id>")
@doc("Delete a CRUSH rule no pool uses (202: a request)", status=202, response=ACCEPTED,
     errors=(401, 403, 404, 409, 503))
def delete_crush_rule(fsid: str, rule_id: int) -> Response:
    return submit_plan(fsid, plan_crush_rule_delete, rule_id)
