"""Ceph's own bounds for the numbers and names of a CRUSH map (src/crush/crush.h, CrushCompiler.cc).

A number outside them is refused naming its line, instead of being truncated by crushtool (a
`max_size 300` becomes 44, a step's `firstn 99999999999` 1215752191) or, in Python, reaching a
msgpack frame it cannot fit."""

from __future__ import annotations

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
MAX_NUMBER_DIGITS = 20  # enough for any 64-bit number; longer ones are refused before conversion
MAX_DEVICE_ID = 0x7FFFFFFD  # 0x7ffffffe and 0x7fffffff are CRUSH_ITEM_UNDEF and CRUSH_ITEM_NONE
# Ceph gives buckets ids densely from -1 down; the compiled map keeps a slot for every id down to the
# lowest (crushtool needs 7 GB for an id near -2**31), so ids below this are refused as typos.
MIN_BUCKET_ID = -(1 << 16)
MAX_TYPE_ID = 0xFFFF  # a bucket's type is 16-bit
MAX_RULE_ID = 255  # CRUSH_MAX_RULES - 1
MAX_RULE_SIZE = 255  # min_size and max_size are 8-bit
MAX_DEVICE_WEIGHT = 100.0  # crushtool refuses a device item heavier than this
MAX_ITEM_WEIGHT = 65535.0  # CRUSH_MAX_BUCKET_WEIGHT: any item, and each weight of a weight_set
MAX_FIXED_WEIGHT = 0xFFFFFFFF  # a bucket's weight, the sum of its items', is 32-bit 16.16
# tunables: 32-bit counters, but crushtool reads them as a C int; the last three are 8-bit
TUNABLE_RANGES = {"choose_local_tries": (0, INT32_MAX), "choose_local_fallback_tries": (0, INT32_MAX),
                  "choose_total_tries": (0, INT32_MAX), "chooseleaf_descend_once": (0, INT32_MAX),
                  "allowed_bucket_algs": (0, INT32_MAX), "chooseleaf_vary_r": (0, 255),
                  "chooseleaf_stable": (0, 255), "straw_calc_version": (0, 255)}
MAX_NAME_LENGTH = 256  # Ceph sets none; longer than any host name, and it keeps error messages short
# choose_args are keyed by pool id (int64); crushtool writes the compat set (-1) as unsigned 64-bit
CHOOSE_ARGS_KEY_RANGE = (-(1 << 63), (1 << 64) - 1)
COMPAT_CHOOSE_ARGS = -1  # the compat weight set; crushtool writes its key as an unsigned 64-bit number
