"""A CRUSH map's text parsed into a CrushText and checked (text_check); CrushTextError lists what
is wrong, each reason with its line."""

from __future__ import annotations

from typing import Any

from calamari.crush.bounds import (
    CHOOSE_ARGS_KEY_RANGE,
    INT32_MAX,
    INT32_MIN,
    MAX_DEVICE_ID,
    MAX_ITEM_WEIGHT,
    MAX_RULE_ID,
    MAX_RULE_SIZE,
    MAX_TYPE_ID,
    MIN_BUCKET_ID,
    TUNABLE_RANGES,
)
from calamari.crush.model import (
    CrushBucket,
    CrushChooseArg,
    CrushDevice,
    CrushItem,
    CrushRule,
    CrushStep,
    CrushText,
    CrushTextError,
    CrushType,
)
from calamari.crush.text_check import text_problems
from calamari.crush.text_reader import Reader, SyntaxProblem, Token, shown, text_tokens
from calamari.crush.vocabulary import BUCKET_ALGS, LEGACY_TUNABLES, RULE_TYPES, SET_STEPS


def _parse_bucket(r: Reader) -> CrushBucket:
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
                raise SyntaxProblem(f"line {id_line}: bucket {name} gives class {cls} two ids")
            class_ids[cls] = value
        elif bucket_id is not None:
            raise SyntaxProblem(f"line {id_line}: bucket {name} has two ids")
        else:
            bucket_id = value
    r.take("alg")
    alg_line = r.line
    alg = r.name("a bucket algorithm")
    if alg not in BUCKET_ALGS:
        raise SyntaxProblem(f"line {alg_line}: unknown bucket algorithm {shown(alg)}; known: {', '.join(BUCKET_ALGS)}")
    r.take("hash")
    hash_line = r.line
    hash_word = r.name("a hash")
    if hash_word not in ("0", "rjenkins1"):
        raise SyntaxProblem(f"line {hash_line}: unknown hash {shown(hash_word)}; known: 0 (rjenkins1)")
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


def _parse_step(r: Reader) -> CrushStep:
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
            raise SyntaxProblem(f"line {line}: expected firstn or indep after {word}, found {shown(mode)}")
        num = r.int("a number of items", INT32_MIN, INT32_MAX)  # 0: as many as replicas; -N: N fewer
        r.take("type")
        return CrushStep(f"{word}_{mode}", line, num=num, type_name=r.name("a type name"))
    if word in SET_STEPS:
        return CrushStep(word, line, num=r.int("a number", INT32_MIN, INT32_MAX))
    if word in ("emit", "noop"):
        return CrushStep(word, line)
    raise SyntaxProblem(f"line {line}: unknown step {shown(word)}")


def _parse_rule(r: Reader) -> CrushRule:
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
        raise SyntaxProblem(f"line {type_line}: a rule's type is replicated or erasure, not {shown(rule_type)}")
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


def _parse_number_list(r: Reader, parse: Any) -> list[Any]:
    r.take("[")
    values = []
    while r.peek() != "]":
        values.append(parse())
    r.take("]")
    return values


def _parse_choose_args(r: Reader) -> tuple[int, list[CrushChooseArg]]:
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
    r = Reader(tokens)
    crush = CrushText()
    while r.peek() == "tunable":
        line = r.line
        r.take()
        name = r.name("a tunable name")
        if name not in LEGACY_TUNABLES:
            raise SyntaxProblem(f"line {line}: unknown tunable {shown(name)}")
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
            raise SyntaxProblem(f"line {line}: choose_args {key % (1 << 64)} appears twice")
        crush.choose_args[key] = args
    if r.peek() is not None:
        raise r.fail("'choose_args' or the end of the map (sections go: tunables, devices, types, buckets, "
                      "rules, choose_args)")
    return crush


def parse_crush_text(text: str) -> CrushText:
    """Parse and check a CRUSH map's text; CrushTextError lists every problem found with its
    line (a syntax error stops at the first)."""
    tokens = text_tokens(text)
    if not tokens:
        raise CrushTextError(["line 1: the CRUSH map is empty"])
    try:
        crush = _parse(tokens)
    except SyntaxProblem as err:
        raise CrushTextError([str(err)]) from None
    errors = text_problems(crush)
    if errors:
        raise CrushTextError(errors)
    return crush
