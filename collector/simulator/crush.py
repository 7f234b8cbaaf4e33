"""The simulated CRUSH map: buckets, the devices each holds and their weights, rules; lookups by
name, and the `osd crush dump` document."""

from __future__ import annotations

from typing import Any

from collector.simulator.ceph import DEVICE_CRUSH_WEIGHT

TYPES = ["osd", "host", "chassis", "rack", "row", "pdu", "pod", "room", "datacenter", "zone", "region", "root"]
TUNABLES = {
    "choose_local_tries": 0, "choose_local_fallback_tries": 0, "choose_total_tries": 50,
    "chooseleaf_descend_once": 1, "chooseleaf_vary_r": 1, "chooseleaf_stable": 1,
    "straw_calc_version": 1, "allowed_bucket_algs": 54, "profile": "jewel",
    "optimal_tunables": 1, "legacy_tunables": 0, "minimum_required_version": "jewel",
    "require_feature_tunables": 1, "require_feature_tunables2": 1,
    "has_v2_rules": 0, "require_feature_tunables3": 1, "has_v3_rules": 0,
    "has_v4_buckets": 1, "require_feature_tunables5": 1, "has_v5_rules": 0,
}


class CrushTree:
    """CRUSH state the commands change: every bucket (id -> name, type, parent), the OSDs each
    bucket holds (in the order they came) with their CRUSH weights, the rules. Each bucket has a
    shadow "~hdd" copy at id - 1; `version` is the map's crush_version."""

    def __init__(self, hosts: list[str], host_osds: list[list[int]], osd_count: int) -> None:
        self.version = 7
        self.types = list(TYPES)
        # id -> {"name", "type_id", "parent"}; a simulated machine's host bucket also has "host_index"
        self.buckets: dict[int, dict[str, Any]] = {-1: {"name": "default", "type_id": 11, "parent": None}}
        for host_index, host in enumerate(hosts):
            self.buckets[-3 - 2 * host_index] = {"name": host, "type_id": 1, "parent": -1, "host_index": host_index}
        self.next_bucket_id = -3 - 2 * len(hosts)
        # bucket id -> its OSDs; an OSD unlinked from every bucket is in none (and gets no data)
        self.bucket_osds: dict[int, list[int]] = {-3 - 2 * host_index: list(osds)
                                                  for host_index, osds in enumerate(host_osds)}
        # a device's CRUSH weight is its size (TiB), whatever its reweight
        self.osd_weight = [DEVICE_CRUSH_WEIGHT] * osd_count
        self.rules: list[dict[str, Any]] = [
            {"rule_id": 0, "rule_name": "replicated_rule", "ruleset": 0, "type": 1, "min_size": 1,
             "max_size": 10, "steps": [
                 {"op": "take", "item": -1, "item_name": "default"},
                 {"op": "chooseleaf_firstn", "num": 0, "type": "host"},
                 {"op": "emit"}]},
            {"rule_id": 1, "rule_name": "ec21", "ruleset": 1, "type": 3, "min_size": 3,
             "max_size": 3, "steps": [
                 {"op": "set_chooseleaf_tries", "num": 5},
                 {"op": "set_choose_tries", "num": 100},
                 {"op": "take", "item": -1, "item_name": "default"},
                 {"op": "chooseleaf_indep", "num": 0, "type": "host"},
                 {"op": "emit"}]},
        ]
        self.last_set_map: tuple[int, str] | None = None  # (the version `osd setcrushmap` made, its text)
        self._dump: tuple[int, dict[str, Any]] | None = None

    @property
    def osd_count(self) -> int:
        return len(self.osd_weight)

    def bucket_by_name(self, name: Any) -> int | None:
        return next((i for i, b in self.buckets.items() if b["name"] == name), None)

    def item_exists(self, name: Any) -> bool:
        return self.bucket_by_name(name) is not None or name in {f"osd.{i}" for i in range(self.osd_count)}

    def rule_by_name(self, name: Any) -> dict[str, Any] | None:
        return next((r for r in self.rules if r["rule_name"] == name), None)

    def device_id(self, name: Any) -> int | None:
        """The OSD id of a device name ("osd.3") of the CRUSH map."""
        prefix, _, number = str(name).partition(".")
        if prefix != "osd" or not number.isascii() or not number.isdigit() or int(number) >= self.osd_count:
            return None
        return int(number)

    def device_bucket(self, osd_id: int) -> int | None:
        return next((b for b, osds in self.bucket_osds.items() if osd_id in osds), None)

    def dump(self) -> dict[str, Any]:
        """`osd crush dump`, built once per version."""
        if self._dump is not None and self._dump[0] == self.version:
            return self._dump[1]
        children: dict[int, list[int]] = {}
        for bucket_id, node in self.buckets.items():  # creation order: item positions
            if node["parent"] is not None:
                children.setdefault(node["parent"], []).append(bucket_id)
        built: dict[int, dict[str, Any]] = {}

        def build(bucket_id: int) -> dict[str, Any]:
            node = self.buckets[bucket_id]
            items = [{"id": osd_id, "weight": int(self.osd_weight[osd_id] * 0x10000)}
                     for osd_id in self.bucket_osds.get(bucket_id, [])]
            for child in children.get(bucket_id, []):
                items.append({"id": child, "weight": build(child)["weight"]})
            items = [{**item, "pos": pos} for pos, item in enumerate(items)]
            type_id = node["type_id"]
            built[bucket_id] = {"id": bucket_id, "name": node["name"], "type_id": type_id,
                                "type_name": self.types[type_id],
                                "weight": sum(item["weight"] for item in items), "alg": "straw2",
                                "hash": "rjenkins1", "items": items}
            return built[bucket_id]

        for bucket_id, node in self.buckets.items():
            if node["parent"] is None:
                build(bucket_id)
        buckets = []
        for bucket_id in sorted(built, reverse=True):
            bucket = built[bucket_id]
            buckets.append(bucket)
            buckets.append({**bucket, "id": bucket_id - 1, "name": f"{bucket['name']}~hdd",
                            "items": [{**i, "id": i["id"] - 1 if i["id"] < 0 else i["id"]}
                                      for i in bucket["items"]]})
        buckets.sort(key=lambda b: -b["id"])
        crush = {
            "devices": [{"id": i, "name": f"osd.{i}", "class": "hdd"} for i in range(self.osd_count)],
            "types": [{"type_id": i, "name": name} for i, name in enumerate(self.types)],
            "buckets": buckets,
            "rules": [dict(rule) for rule in sorted(self.rules, key=lambda r: r["rule_id"])],
            "tunables": dict(TUNABLES),
            "choose_args": {},
        }
        self._dump = (self.version, crush)
        return crush
