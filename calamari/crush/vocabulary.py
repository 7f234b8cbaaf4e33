"""The words of a CRUSH map's text that both its renderer and its parser know: tunables and their
legacy values, rule types, bucket algorithms and hashes, and the kinds of rule step."""

from __future__ import annotations

# crushtool prints a tunable only when it differs from these (the legacy "argonaut" values)
LEGACY_TUNABLES = {"choose_local_tries": 2, "choose_local_fallback_tries": 5, "choose_total_tries": 19,
                   "chooseleaf_descend_once": 0, "chooseleaf_vary_r": 0, "chooseleaf_stable": 0,
                   "straw_calc_version": 0, "allowed_bucket_algs": 22}
RULE_TYPES = {1: "replicated", 3: "erasure"}
BUCKET_ALGS = ("uniform", "list", "tree", "straw", "straw2")
ALG_COMMENTS = {"list": "# add new items at the end; do not change order unnecessarily",
                "tree": "# do not change pos for existing items unnecessarily"}
HASHES = {"rjenkins1": 0}
CHOOSE_STEPS = ("choose_firstn", "chooseleaf_firstn", "choose_indep", "chooseleaf_indep")
SET_STEPS = ("set_choose_tries", "set_chooseleaf_tries", "set_choose_local_tries",
             "set_choose_local_fallback_tries", "set_chooseleaf_vary_r", "set_chooseleaf_stable")
# the dump names only some opcodes; these it shows as {"opcode": n, "arg1": value}
SET_STEP_OPCODES = {8: "set_choose_tries", 9: "set_chooseleaf_tries", 10: "set_choose_local_tries",
                    11: "set_choose_local_fallback_tries", 12: "set_chooseleaf_vary_r", 13: "set_chooseleaf_stable"}
