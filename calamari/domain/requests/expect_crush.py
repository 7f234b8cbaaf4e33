"""What a CRUSH map must show for a CRUSH request to be done: a rule or node there (with its name,
type and parent) or gone, a bucket's items and weights, or a replaced map's buckets and rules."""

from __future__ import annotations

from typing import Any

CRUSH_CHECKS = {"crush_rule", "crush_rule_gone", "crush_node", "crush_node_gone", "crush_items", "crush_map"}


def crush_map_expectation_met(check: dict[str, Any], crush: dict[str, Any], version: Any) -> bool:
    """A CRUSH map newer than the one replaced, with the submitted map's buckets and rules."""
    if not isinstance(version, int) or version <= check["after_version"]:
        return False
    buckets = sorted(b.get("name", "") for b in crush.get("buckets", [])
                     if isinstance(b, dict) and "~" not in b.get("name", "~"))
    rules = sorted(r.get("rule_name", "") for r in crush.get("rules", []) if isinstance(r, dict))
    return buckets == check["buckets"] and rules == check["rules"]


def crush_expectation_met(check: dict[str, Any], crush: dict[str, Any]) -> bool:
    kind = check["check"]
    if kind in ("crush_rule", "crush_rule_gone"):
        rules = [r for r in crush.get("rules", []) if isinstance(r, dict)]
        if kind == "crush_rule_gone":
            return not any(r.get("rule_id") == check["id"] and r.get("rule_name") == check["name"] for r in rules)
        if "id" in check:
            return any(r.get("rule_id") == check["id"] and r.get("rule_name") == check["name"] for r in rules)
        return any(r.get("rule_name") == check["name"] for r in rules)
    buckets = [b for b in crush.get("buckets", []) if isinstance(b, dict)]
    if kind == "crush_items":
        holder = next((b for b in buckets if (b.get("id") == check["id"] if "id" in check
                                              else b.get("name") == check["name"])), None)
        if holder is None:
            return False
        held = {i.get("id"): i.get("weight") for i in holder.get("items", []) if isinstance(i, dict)}
        if any(c not in held for c in check["present"]) or any(c in held for c in check["absent"]):
            return False
        # the monitor truncates a weight to 16.16: within one step is the weight asked for
        return all(isinstance(held[c], int) and abs(held[c] - fixed) <= 1 for c, fixed in check["weights"])
    if kind == "crush_node_gone":
        return not any(b.get("id") == check["id"] and b.get("name") == check["name"] for b in buckets)
    node = next((b for b in buckets if b.get("name") == check["name"]), None)
    if node is None or ("id" in check and node.get("id") != check["id"]):
        return False
    if check.get("type") is not None and node.get("type_name") != check["type"]:
        return False
    if check.get("parent") is not None:
        parent = next((b for b in buckets if any(i.get("id") == node["id"] for i in b.get("items", []))), None)
        return parent is not None and parent.get("name") == check["parent"]
    return True
