"""CRUSH maps as text, the form `crushtool -d` prints and `crushtool -c` reads (Calamari v2's
crush_map resource): rendered from the JSON `ceph osd crush dump` gives, and parsed back into a
structure checked the way crushtool checks it, with line numbers in every reason.

Pure: no files, no processes. Ceph compiles the text itself (the collector runs crushtool); the
parser only makes sure a bad map is refused with useful reasons before anything is sent."""

from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass, field
from typing import Any

WEIGHT_SCALE = 0x10000  # CRUSH weights are 16.16 fixed point
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
MAX_DEVICE_WEIGHT = 100.0  # crushtool refuses a device item heavier than this
# Ceph's own bounds for the numbers of a map (src/crush/crush.h, CrushCompiler.cc): a number outside
# them is refused naming its line, instead of being truncated by crushtool (a `max_size 300` becomes
# 44, a step's `firstn 99999999999` 1215752191) or, in Python, reaching a msgpack frame it cannot fit.
INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
MAX_NUMBER_DIGITS = 20  # enough for any 64-bit number; longer ones are refused before conversion
MAX_DEVICE_ID = 0x7FFFFFFD  # 0x7ffffffe and 0x7fffffff are CRUSH_ITEM_UNDEF and CRUSH_ITEM_NONE
# Ceph gives buckets ids densely from -1 down; the compiled map keeps a slot for every id down to the
# lowest (crushtool needs 7 GB for an id near -2**31), so ids below this are refused as typos.
MIN_BUCKET_ID = -(1 << 16)
MAX_TYPE_ID = 0xFFFF  # a bucket's type is 16-bit
MAX_RULE_ID = 255  # CRUSH_MAX_RULES - 1
MAX_RULE_SIZE = 255  # min_size and max_size are 8-bit
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
NAME_RE = re.compile(r"^[-_.0-9A-Za-z]+$")
INT_RE = re.compile(r"^-?[0-9]+$")
FLOAT_RE = re.compile(r"^-?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$")


def weight_fixed(weight: float) -> int:
    """A text weight as CRUSH stores it (crushtool truncates)."""
    return int(weight * WEIGHT_SCALE)


def weight_text(fixed: int) -> str:
    # crushtool converts through a C float: large weights lose their last bits first
    as_float = struct.unpack("f", struct.pack("f", float(fixed)))[0]
    return f"{as_float / WEIGHT_SCALE:.3f}"


# ---------------------------------------------------------------------------- rendering

def _class_order(crush: dict[str, Any]) -> list[str]:
    """Device classes in the order crushtool lists a bucket's per-class ids (class id order).
    The dump does not give class ids; Ceph numbers classes as it first meets them, which is the
    order of the devices (and so crushtool gives it to a compiled map), then shadow-only classes."""
    order: list[str] = []
    for device in crush.get("devices", []):
        if device.get("class") and device["class"] not in order:
            order.append(device["class"])
    for bucket in sorted(crush.get("buckets", []), key=lambda b: -b["id"]):
        _, _, cls = bucket["name"].partition("~")
        if cls and cls not in order:
            order.append(cls)
    return order


def _is_placeholder(device: dict[str, Any]) -> bool:
    # the dump fills id gaps with "deviceN" entries that crushtool does not print
    return device.get("name") == f"device{device['id']}" and not device.get("class")


def _step_text(step: dict[str, Any]) -> str:
    op = step.get("op")
    if op is None and step.get("opcode") in SET_STEP_OPCODES:
        return f"step {SET_STEP_OPCODES[step['opcode']]} {step.get('arg1', 0)}"
    if op == "take":
        name = str(step.get("item_name", step.get("item")))
        root, _, cls = name.partition("~")
        return f"step take {root} class {cls}" if cls else f"step take {name}"
    if op in CHOOSE_STEPS:
        verb, _, mode = op.partition("_")
        return f"step {verb} {mode} {step.get('num', 0)} type {step.get('type')}"
    if op in SET_STEPS:
        return f"step {op} {step.get('num', 0)}"
    if op == "emit":
        return "step emit"
    if op == "noop":
        return "step noop"
    return f"# step not understood: {step}"


def render_crush_text(crush: dict[str, Any]) -> str:
    """The decompiled text of a CRUSH map given as `ceph osd crush dump` (Ceph 16.2) JSON,
    as `crushtool -d` prints it."""
    out = ["# begin crush map"]
    tunables = crush.get("tunables", {})
    for name, legacy in LEGACY_TUNABLES.items():
        if name in tunables and tunables[name] != legacy:
            out.append(f"tunable {name} {tunables[name]}")
    out += ["", "# devices"]
    for device in crush.get("devices", []):
        if not _is_placeholder(device):
            cls = f" class {device['class']}" if device.get("class") else ""
            out.append(f"device {device['id']} {device['name']}{cls}")
    out += ["", "# types"]
    out += [f"type {t['type_id']} {t['name']}" for t in crush.get("types", [])]
    out += ["", "# buckets"]
    buckets = {b["id"]: b for b in crush.get("buckets", [])}
    names = {d["id"]: d["name"] for d in crush.get("devices", [])}
    names.update({b["id"]: b["name"] for b in buckets.values()})
    shadows: dict[str, dict[str, int]] = {}
    for bucket in buckets.values():
        base, _, cls = bucket["name"].partition("~")
        if cls:
            shadows.setdefault(base, {})[cls] = bucket["id"]
    classes = _class_order(crush)
    done: set[int] = set()

    def emit(bucket_id: int) -> None:
        bucket = buckets[bucket_id]
        done.add(bucket_id)
        for item in bucket.get("items", []):  # children first: crushtool reads no forward references
            if item["id"] < 0 and item["id"] not in done and item["id"] in buckets:
                emit(item["id"])
        out.append(f"{bucket.get('type_name', bucket.get('type_id'))} {bucket['name']} {{")
        out.append(f"\tid {bucket_id}\t\t# do not change unnecessarily")
        own = shadows.get(bucket["name"], {})
        for cls in classes:
            if cls in own:
                out.append(f"\tid {own[cls]} class {cls}\t\t# do not change unnecessarily")
        out.append(f"\t# weight {weight_text(bucket.get('weight', 0))}")
        alg = bucket.get("alg", "straw2")
        items = bucket.get("items", [])
        if alg == "uniform":
            out.append(f"\talg uniform\t# do not change bucket size ({len(items)}) unnecessarily")
        else:
            out.append(f"\talg {alg}\t{ALG_COMMENTS[alg]}" if alg in ALG_COMMENTS else f"\talg {alg}")
        hash_name = bucket.get("hash", "rjenkins1")
        out.append(f"\thash {HASHES.get(hash_name, hash_name)}\t# {hash_name}")
        for item in items:
            pos = f" pos {item.get('pos', 0)}" if alg in ("uniform", "tree") else ""
            out.append(f"\titem {names.get(item['id'], item['id'])} weight {weight_text(item.get('weight', 0))}{pos}")
        out.append("}")

    for bucket_id in sorted(buckets, reverse=True):
        if bucket_id not in done and "~" not in buckets[bucket_id]["name"]:
            emit(bucket_id)
    out += ["", "# rules"]
    for rule in crush.get("rules", []):
        out.append(f"rule {rule['rule_name']} {{")
        out.append(f"\tid {rule['rule_id']}")
        out.append(f"\ttype {RULE_TYPES.get(rule.get('type'), rule.get('type'))}")
        out.append(f"\tmin_size {rule.get('min_size', 1)}")
        out.append(f"\tmax_size {rule.get('max_size', 10)}")
        out += [f"\t{_step_text(step)}" for step in rule.get("steps", [])]
        out.append("}")
    choose_args = crush.get("choose_args") or {}
    if choose_args:
        out += ["", "# choose_args"]
        for key in sorted(choose_args, key=int):
            out.append(f"choose_args {int(key) % (1 << 64)} {{")
            for arg in choose_args[key]:
                out += ["  {", f"    bucket_id {arg['bucket_id']}"]
                if arg.get("weight_set"):
                    out.append("    weight_set [")
                    out += ["      [ " + " ".join(f"{w:.3f}" for w in ws) + " ]" for ws in arg["weight_set"]]
                    out.append("    ]")
                if arg.get("ids"):
                    out.append("    ids [ " + " ".join(str(i) for i in arg["ids"]) + " ]")
                out.append("  }")
            out.append("}")
    out += ["", "# end crush map", ""]
    return "\n".join(out)


# ---------------------------------------------------------------------------- parsing

@dataclass
class Token:
    text: str
    line: int


@dataclass
class CrushDevice:
    id: int
    name: str
    device_class: str | None
    line: int


@dataclass
class CrushType:
    id: int
    name: str
    line: int


@dataclass
class CrushItem:
    name: str
    weight: float | None  # None: the item's own weight (1.0 for a device)
    pos: int | None
    line: int
    weight_fixed: int = 0  # resolved by validation


@dataclass
class CrushBucket:
    type_name: str
    name: str
    id: int | None  # None: Ceph picks one
    class_ids: dict[str, int]
    alg: str
    hash: int
    items: list[CrushItem]
    line: int
    weight_fixed: int = 0  # the sum of its items' weights, resolved by validation


@dataclass
class CrushStep:
    op: str  # as the JSON dump names it: take, chooseleaf_firstn, set_choose_tries, emit...
    line: int
    item: str | None = None  # take
    item_class: str | None = None  # take ... class C
    num: int | None = None  # choose/chooseleaf and set_* steps
    type_name: str | None = None  # choose/chooseleaf


@dataclass
class CrushRule:
    name: str
    id: int
    type: str
    min_size: int
    max_size: int
    steps: list[CrushStep]
    line: int


@dataclass
class CrushChooseArg:
    bucket_id: int
    weight_set: list[list[float]] | None
    ids: list[int] | None
    line: int


@dataclass
class CrushText:
    tunables: dict[str, int] = field(default_factory=dict)
    devices: list[CrushDevice] = field(default_factory=list)
    types: list[CrushType] = field(default_factory=list)
    buckets: list[CrushBucket] = field(default_factory=list)
    rules: list[CrushRule] = field(default_factory=list)
    choose_args: dict[int, list[CrushChooseArg]] = field(default_factory=dict)

    def bucket(self, name: str) -> CrushBucket | None:
        return next((b for b in self.buckets if b.name == name), None)


class CrushTextError(ValueError):
    """Text that is not a valid CRUSH map: `errors` holds one "line N: reason" per problem."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


class _Syntax(Exception):
    pass


def _shown(word: str) -> str:
    """A word of the text as an error message quotes it: long ones clipped."""
    return repr(word) if len(word) <= 40 else f"{word[:20]!r}... ({len(word)} characters)"


def _tokens(text: str) -> list[Token]:
    tokens = []
    for number, line in enumerate(text.splitlines(), start=1):
        code = line.split("#", 1)[0]
        for word in re.findall(r"[{}\[\]]|[^\s{}\[\]]+", code):
            tokens.append(Token(word, number))
    return tokens


class _Reader:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.index = 0

    def peek(self, ahead: int = 0) -> str | None:
        i = self.index + ahead
        return self.tokens[i].text if i < len(self.tokens) else None

    @property
    def line(self) -> int:
        if self.index < len(self.tokens):
            return self.tokens[self.index].line
        return self.tokens[-1].line if self.tokens else 1

    def fail(self, expected: str) -> _Syntax:
        got = _shown(self.peek() or "") if self.peek() is not None else "the end of the text"
        return _Syntax(f"line {self.line}: expected {expected}, found {got}")

    def take(self, expected: str | None = None) -> Token:
        if self.index >= len(self.tokens) or (expected is not None and self.peek() != expected):
            raise self.fail(repr(expected) if expected else "more text")
        token = self.tokens[self.index]
        self.index += 1
        return token

    def int(self, what: str, low: int, high: int) -> int:
        """The next token as an integer between `low` and `high` (Ceph's bounds for `what`)."""
        if self.peek() is None or not INT_RE.match(self.peek() or ""):
            raise self.fail(what)
        line = self.line
        text = self.take().text
        digits = text.lstrip("-").lstrip("0") or "0"
        value = None
        if len(digits) <= MAX_NUMBER_DIGITS:  # int() would refuse thousands of digits with a ValueError
            value = -int(digits) if text.startswith("-") else int(digits)
        if value is None or not low <= value <= high:
            shown = text if len(text) <= 24 else f"{text[:12]}... ({len(digits)} digits)"
            raise _Syntax(f"line {line}: {what} must be between {low} and {high}, not {shown}")
        return value

    def float(self, what: str, high: float) -> float:
        """The next token as a finite number between 0 and `high`."""
        if self.peek() is None or not FLOAT_RE.match(self.peek() or ""):
            raise self.fail(what)
        line = self.line
        value = float(self.take().text)
        if not math.isfinite(value):  # e.g. 1e999: CRUSH weights are 16.16 fixed point
            raise _Syntax(f"line {line}: {what} must be a finite number")
        if not 0 <= value <= high:
            raise _Syntax(f"line {line}: {what} must be between 0 and {high:g}, not {value:g}")
        return value

    def name(self, what: str) -> str:
        if self.peek() is None or not NAME_RE.match(self.peek() or ""):
            raise self.fail(what)
        if len(self.peek() or "") > MAX_NAME_LENGTH:
            raise _Syntax(f"line {self.line}: {what} has at most {MAX_NAME_LENGTH} characters, "
                          f"not {len(self.peek() or '')}")
        return self.take().text


def _parse_bucket(r: _Reader) -> CrushBucket:
    line = r.line
    type_name = r.name("a bucket type")
    name = r.name("a bucket name")
    r.take("{")
    bucket_id: int | None = None
    class_ids: dict[str, int] = {}
    while r.peek() == "id":
        id_line = r.line
        r.take()
        value = r.int("a bucket id", MIN_BUCKET_ID, -1)
        if r.peek() == "class":
            r.take()
            cls = r.name("a device class")
            if cls in class_ids:
                raise _Syntax(f"line {id_line}: bucket {name} gives class {cls} two ids")
            class_ids[cls] = value
        elif bucket_id is not None:
            raise _Syntax(f"line {id_line}: bucket {name} has two ids")
        else:
            bucket_id = value
    r.take("alg")
    alg_line = r.line
    alg = r.name("a bucket algorithm")
    if alg not in BUCKET_ALGS:
        raise _Syntax(f"line {alg_line}: unknown bucket algorithm {_shown(alg)}; known: {', '.join(BUCKET_ALGS)}")
    r.take("hash")
    hash_line = r.line
    hash_word = r.name("a hash")
    if hash_word not in ("0", "rjenkins1"):
        raise _Syntax(f"line {hash_line}: unknown hash {_shown(hash_word)}; known: 0 (rjenkins1)")
    items = []
    while r.peek() == "item":
        item_line = r.line
        r.take()
        item_name = r.name("an item name")
        weight = pos = None
        while r.peek() in ("weight", "pos"):
            if r.take().text == "weight":
                weight = r.float("a weight", MAX_ITEM_WEIGHT)
            else:
                pos = r.int("a position", 0, INT32_MAX)
        items.append(CrushItem(item_name, weight, pos, item_line))
    if r.peek() != "}":
        raise r.fail("'item' or '}'")
    r.take("}")
    return CrushBucket(type_name, name, bucket_id, class_ids, alg, 0, items, line)


def _parse_step(r: _Reader) -> CrushStep:
    line = r.line
    r.take("step")
    word = r.name("a step")
    if word == "take":
        item = r.name("the item to take")
        cls = None
        if r.peek() == "class":
            r.take()
            cls = r.name("a device class")
        return CrushStep("take", line, item=item, item_class=cls)
    if word in ("choose", "chooseleaf"):
        mode = r.name("firstn or indep")
        if mode not in ("firstn", "indep"):
            raise _Syntax(f"line {line}: expected firstn or indep after {word}, found {_shown(mode)}")
        num = r.int("a number of items", INT32_MIN, INT32_MAX)  # 0: as many as replicas; -N: N fewer
        r.take("type")
        return CrushStep(f"{word}_{mode}", line, num=num, type_name=r.name("a type name"))
    if word in SET_STEPS:
        return CrushStep(word, line, num=r.int("a number", INT32_MIN, INT32_MAX))
    if word in ("emit", "noop"):
        return CrushStep(word, line)
    raise _Syntax(f"line {line}: unknown step {_shown(word)}")


def _parse_rule(r: _Reader) -> CrushRule:
    line = r.line
    r.take("rule")
    name = r.name("a rule name")
    r.take("{")
    if r.peek() not in ("id", "ruleset"):
        raise r.fail("'id'")
    r.take()
    rule_id = r.int("a rule id", 0, MAX_RULE_ID)
    r.take("type")
    type_line = r.line
    rule_type = r.name("replicated or erasure")
    if rule_type not in RULE_TYPES.values():
        raise _Syntax(f"line {type_line}: a rule's type is replicated or erasure, not {_shown(rule_type)}")
    r.take("min_size")
    min_size = r.int("min_size", 0, MAX_RULE_SIZE)
    r.take("max_size")
    max_size = r.int("max_size", 0, MAX_RULE_SIZE)
    steps = []
    while r.peek() == "step":
        steps.append(_parse_step(r))
    if r.peek() != "}":
        raise r.fail("'step' or '}'")
    r.take("}")
    return CrushRule(name, rule_id, rule_type, min_size, max_size, steps, line)


def _parse_number_list(r: _Reader, parse: Any) -> list[Any]:
    r.take("[")
    values = []
    while r.peek() != "]":
        values.append(parse())
    r.take("]")
    return values


def _parse_choose_args(r: _Reader) -> tuple[int, list[CrushChooseArg]]:
    r.take("choose_args")
    key = r.int("a choose_args id", *CHOOSE_ARGS_KEY_RANGE)
    if key >= 1 << 63:
        key -= 1 << 64  # written unsigned, kept signed (the compat set is -1)
    r.take("{")
    args = []
    while r.peek() == "{":
        line = r.line
        r.take("{")
        r.take("bucket_id")
        bucket_id = r.int("a bucket id", MIN_BUCKET_ID, -1)
        weight_set = ids = None
        if r.peek() == "weight_set":
            r.take()
            r.take("[")
            weight_set = []
            while r.peek() == "[":
                weight_set.append(_parse_number_list(r, lambda: r.float("a weight", MAX_ITEM_WEIGHT)))
            r.take("]")
        if r.peek() == "ids":
            r.take()
            ids = _parse_number_list(r, lambda: r.int("an id", INT32_MIN, INT32_MAX))
        r.take("}")
        args.append(CrushChooseArg(bucket_id, weight_set, ids, line))
    r.take("}")
    return key, args


def _parse(tokens: list[Token]) -> CrushText:
    r = _Reader(tokens)
    crush = CrushText()
    while r.peek() == "tunable":
        line = r.line
        r.take()
        name = r.name("a tunable name")
        if name not in LEGACY_TUNABLES:
            raise _Syntax(f"line {line}: unknown tunable {_shown(name)}")
        crush.tunables[name] = r.int(f"tunable {name}", *TUNABLE_RANGES[name])
    while r.peek() == "device":
        line = r.line
        r.take()
        device_id = r.int("a device id", 0, MAX_DEVICE_ID)
        name = r.name("a device name")
        cls = None
        if r.peek() == "class":
            r.take()
            cls = r.name("a device class")
        crush.devices.append(CrushDevice(device_id, name, cls, line))
    while r.peek() == "type":
        line = r.line
        r.take()
        type_id = r.int("a type id", 0, MAX_TYPE_ID)
        crush.types.append(CrushType(type_id, r.name("a type name"), line))
    while r.peek() is not None and r.peek() not in ("rule", "choose_args"):
        if r.peek(2) != "{":
            raise r.fail("a bucket ('TYPE NAME {'), 'rule' or 'choose_args'")
        crush.buckets.append(_parse_bucket(r))
    while r.peek() == "rule":
        crush.rules.append(_parse_rule(r))
    while r.peek() == "choose_args":
        line = r.line
        key, args = _parse_choose_args(r)
        if key in crush.choose_args:
            raise _Syntax(f"line {line}: choose_args {key % (1 << 64)} appears twice")
        crush.choose_args[key] = args
    if r.peek() is not None:
        raise r.fail("'choose_args' or the end of the map (sections go: tunables, devices, types, buckets, "
                      "rules, choose_args)")
    return crush


def _validate(crush: CrushText) -> list[str]:
    errors: list[str] = []
    device_ids: dict[int, CrushDevice] = {}
    devices: dict[str, CrushDevice] = {}  # by name, the first of each (a map may hold 10,000s)
    names: dict[str, int] = {}  # every item name -> the line defining it
    for d in crush.devices:
        if d.id in device_ids:
            errors.append(f"line {d.line}: device id {d.id} is already used by {device_ids[d.id].name}")
        if d.name in names:
            errors.append(f"line {d.line}: the name {d.name} is already used (line {names[d.name]})")
        device_ids.setdefault(d.id, d)
        devices.setdefault(d.name, d)
        names.setdefault(d.name, d.line)
    classes = {d.device_class for d in crush.devices if d.device_class}
    type_ids: dict[int, str] = {}
    type_names: set[str] = set()
    for t in crush.types:
        if t.id in type_ids:
            errors.append(f"line {t.line}: type id {t.id} is already used by {type_ids[t.id]}")
        if t.name in type_names:
            errors.append(f"line {t.line}: type {t.name} is defined twice")
        type_ids.setdefault(t.id, t.name)
        type_names.add(t.name)
    device_type = type_ids.get(0)
    bucket_ids: dict[int, int] = {}  # every bucket id (per-class ids too) -> its line
    defined: dict[str, CrushBucket] = {}
    for b in crush.buckets:
        if b.type_name not in type_names:
            errors.append(f"line {b.line}: unknown type {b.type_name!r} for bucket {b.name}")
        elif b.type_name == device_type:
            errors.append(f"line {b.line}: bucket {b.name} has the device type {b.type_name!r}")
        if b.name in names:
            errors.append(f"line {b.line}: the name {b.name} is already used (line {names[b.name]})")
        names.setdefault(b.name, b.line)
        for bucket_id in ([b.id] if b.id is not None else []) + list(b.class_ids.values()):
            if bucket_id in bucket_ids:
                errors.append(f"line {b.line}: bucket id {bucket_id} is already used (line {bucket_ids[bucket_id]})")
            bucket_ids.setdefault(bucket_id, b.line)
        for cls in b.class_ids:
            if cls not in classes:
                errors.append(f"line {b.line}: no device has class {cls!r} (bucket {b.name})")
        seen: set[str] = set()
        positions: set[int] = set()
        total = 0
        for item in b.items:
            if item.name in seen:
                errors.append(f"line {item.line}: item {item.name} appears twice in bucket {b.name}")
            seen.add(item.name)
            if item.pos is not None:
                if item.pos >= len(b.items):
                    errors.append(f"line {item.line}: pos {item.pos} is beyond the bucket's {len(b.items)} items "
                                  f"(positions count from 0)")
                elif item.pos in positions:
                    errors.append(f"line {item.line}: pos {item.pos} is taken by another item of bucket {b.name}")
                positions.add(item.pos)
            device = devices.get(item.name)
            child = defined.get(item.name)
            if device is None and child is None:
                later = crush.bucket(item.name)
                reason = "is defined further down (define a bucket before the buckets holding it)" \
                    if later is not None and later is not b else "is not a device or a bucket defined above"
                errors.append(f"line {item.line}: item {item.name} in bucket {b.name} {reason}")
                continue
            if device is not None and item.weight is not None and item.weight > MAX_DEVICE_WEIGHT:
                errors.append(f"line {item.line}: a device's weight is at most {MAX_DEVICE_WEIGHT:g}")
            if item.weight is not None:
                item.weight_fixed = weight_fixed(item.weight)
            else:
                item.weight_fixed = WEIGHT_SCALE if device is not None else child.weight_fixed  # type: ignore[union-attr]
            total += item.weight_fixed
        if total > MAX_FIXED_WEIGHT:
            errors.append(f"line {b.line}: bucket {b.name} weighs {total / WEIGHT_SCALE:.0f}, more than CRUSH's "
                          f"32-bit weights hold ({MAX_FIXED_WEIGHT / WEIGHT_SCALE:.0f}): lower its items' weights")
        b.weight_fixed = total
        defined[b.name] = b
    rule_ids: dict[int, str] = {}
    rule_names: set[str] = set()
    for rule in crush.rules:
        if rule.id in rule_ids:
            errors.append(f"line {rule.line}: rule id {rule.id} is already used by {rule_ids[rule.id]}")
        if rule.name in rule_names:
            errors.append(f"line {rule.line}: rule {rule.name} is defined twice")
        rule_ids.setdefault(rule.id, rule.name)
        rule_names.add(rule.name)
        if rule.min_size > rule.max_size:
            errors.append(f"line {rule.line}: min_size {rule.min_size} exceeds max_size {rule.max_size}")
        for step in rule.steps:
            if step.op == "take":
                bucket = defined.get(step.item or "")
                if bucket is None and step.item not in devices:
                    errors.append(f"line {step.line}: step take {step.item}: no such bucket or device")
                elif step.item_class is not None and (bucket is None or step.item_class not in bucket.class_ids):
                    errors.append(f"line {step.line}: step take {step.item} class {step.item_class}: the bucket "
                                  f"has no id for class {step.item_class} ('id -N class {step.item_class}')")
            elif step.type_name is not None and step.type_name not in type_names:
                errors.append(f"line {step.line}: unknown type {step.type_name!r}")
    all_buckets = {b.id: b for b in crush.buckets if b.id is not None}
    for args in crush.choose_args.values():
        for arg in args:
            bucket = all_buckets.get(arg.bucket_id)
            if bucket is None:
                errors.append(f"line {arg.line}: choose_args names bucket id {arg.bucket_id}, which no bucket has")
                continue
            for values in (arg.weight_set or []):
                if len(values) != len(bucket.items):
                    errors.append(f"line {arg.line}: a weight_set of bucket {bucket.name} needs "
                                  f"{len(bucket.items)} weights, not {len(values)}")
            if arg.ids is not None and len(arg.ids) != len(bucket.items):
                errors.append(f"line {arg.line}: the ids of bucket {bucket.name} need {len(bucket.items)} "
                              f"entries, not {len(arg.ids)}")
    return errors


def parse_crush_text(text: str) -> CrushText:
    """Parse and check a CRUSH map's text; CrushTextError lists every problem found with its
    line (a syntax error stops at the first)."""
    tokens = _tokens(text)
    if not tokens:
        raise CrushTextError(["line 1: the CRUSH map is empty"])
    try:
        crush = _parse(tokens)
    except _Syntax as err:
        raise CrushTextError([str(err)]) from None
    errors = _validate(crush)
    if errors:
        raise CrushTextError(errors)
    return crush
