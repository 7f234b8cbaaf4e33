"""Planning user requests: a validated change (already type-checked by the API's schemas) checked
against the cluster's current state, turned into the Ceph commands to run and the condition a map
must show for the request to count as done.

Pure: reads the model, returns plans; raises RequestRejected with per-field reasons. One module a
kind of object (`pools`, `osds`, `osd_flags`, `crush_rules`, `crush_nodes`, `crush_items`,
`crush_map`), with what they share (`plan`, `cluster_facts`, `pool_limits`, `crush_view`),
`conflicts` between open requests and `expect`/`expect_crush`, which judge a map without the model
(the model imports them). This package re-exports what the API and the request executor use."""

from calamari.domain.requests.conflicts import check_conflicts
from calamari.domain.requests.crush_map import check_crush_map_text, plan_crush_map_set
from calamari.domain.requests.crush_nodes import plan_crush_node_create, plan_crush_node_delete, plan_crush_node_update
from calamari.domain.requests.crush_rules import plan_crush_rule_create, plan_crush_rule_delete, plan_crush_rule_update
from calamari.domain.requests.expect import awaited_sync_object, expectation_met
from calamari.domain.requests.osd_flags import osd_flags, plan_osd_config
from calamari.domain.requests.osds import OSD_COMMANDS, plan_osd_command, plan_osd_update
from calamari.domain.requests.plan import Plan, RequestRejected, command
from calamari.domain.requests.pools import plan_pool_create, plan_pool_delete, plan_pool_update

__all__ = ["OSD_COMMANDS", "Plan", "RequestRejected", "awaited_sync_object", "check_conflicts", "check_crush_map_text",
           "command", "expectation_met", "osd_flags", "plan_crush_map_set", "plan_crush_node_create",
           "plan_crush_node_delete", "plan_crush_node_update", "plan_crush_rule_create", "plan_crush_rule_delete",
           "plan_crush_rule_update", "plan_osd_command", "plan_osd_config", "plan_osd_update", "plan_pool_create",
           "plan_pool_delete", "plan_pool_update"]
