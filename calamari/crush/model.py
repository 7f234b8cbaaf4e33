"""A CRUSH map's text read into data: the parts of the map, each with the line defining it, and
the error that lists what is wrong with a text."""

from __future__ import annotations

from dataclasses import dataclass, field


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

