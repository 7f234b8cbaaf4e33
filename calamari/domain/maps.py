"""Validation of the Ceph 16.2 JSON documents the collectors send (sync objects).

Only the fields the model uses are checked; everything else Ceph adds is kept as it came. A bad
document raises InvalidMap naming the field, before anything is changed."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class InvalidMap(ValueError):
    """A sync object whose content is malformed; `field` names the offending field."""

    def __init__(self, name: str, field: str, reason: str) -> None:
        super().__init__(f"{name}: field {field!r}: {reason}")
        self.name = name
        self.field = field
        self.reason = reason


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=False, populate_by_name=True)


class OsdEntry(_Loose):
    osd: int = Field(ge=0)
    uuid: str
    up: int = Field(ge=0, le=1)
    in_: int = Field(alias="in", ge=0, le=1)
    weight: float = Field(ge=0)
    primary_affinity: float = 1.0
    public_addr: str = ""
    cluster_addr: str = ""


class PoolEntry(_Loose):
    pool: int = Field(ge=0)
    pool_name: str
    type: int
    size: int = Field(ge=0)
    min_size: int = Field(ge=0)
    pg_num: int = Field(ge=0)
    pg_placement_num: int = Field(ge=0)
    crush_rule: int
    erasure_code_profile: str = ""
    flags_names: str = ""
    quota_max_bytes: int = 0
    quota_max_objects: int = 0
    pg_autoscale_mode: str = ""
    target_max_bytes: int = 0
    target_max_objects: int = 0
    application_metadata: dict[str, Any] = {}


class OsdMapHeader(_Loose):
    epoch: int = Field(ge=0)
    fsid: str
    flags: str
    crush_version: int = 0
    full_ratio: float = 0.0
    backfillfull_ratio: float = 0.0
    nearfull_ratio: float = 0.0
    require_osd_release: str = ""
    osds: list[dict[str, Any]]
    pools: list[dict[str, Any]]


class HealthCheckSummary(_Loose):
    message: str
    count: int = 0


class HealthCheck(_Loose):
    severity: str
    summary: HealthCheckSummary
    muted: bool = False


class Health(_Loose):
    status: str
    checks: dict[str, HealthCheck]


class MonEntry(_Loose):
    rank: int
    name: str
    addr: str = ""
    public_addr: str = ""


class MonMap(_Loose):
    epoch: int = Field(ge=0)
    fsid: str = ""
    mons: list[MonEntry]


class MonStatus(_Loose):
    election_epoch: int = Field(ge=0)
    quorum: list[int]
    monmap: MonMap


class PgSummary(_Loose):
    version: int = Field(ge=0)
    num_pgs: int = Field(ge=0)
    by_state: dict[str, int]
    by_pool: dict[str, dict[str, int]] = {}
    by_osd: dict[str, dict[str, int]] = {}


class CrushBucketItem(_Loose):
    id: int
    weight: float
    pos: int = 0


class CrushBucket(_Loose):
    id: int
    name: str
    type_id: int = 0
    type_name: str
    weight: float = 0
    alg: str = ""
    hash: str = ""
    items: list[CrushBucketItem]


class CrushDevice(_Loose):
    id: int
    name: str
    class_: str | None = Field(default=None, alias="class")


class CrushMap(_Loose):
    devices: list[CrushDevice]
    types: list[dict[str, Any]]
    buckets: list[CrushBucket]
    rules: list[dict[str, Any]]


class FsEntry(_Loose):
    id: int
    mdsmap: dict[str, Any]


class FsMap(_Loose):
    epoch: int = Field(ge=0)
    filesystems: list[FsEntry]
    standbys: list[dict[str, Any]] = []


class ConfigEntry(_Loose):
    section: str
    name: str
    value: str


class OsdMetadataEntry(_Loose):
    id: int
    hostname: str = ""


def _field_of(err: ValidationError) -> tuple[str, str]:
    first = err.errors()[0]
    return ".".join(str(p) for p in first["loc"]) or "(document)", first["msg"]


def validate(name: str, model: type[_Loose], data: Any, prefix: str = "") -> Any:
    """Validate `data` against `model`, raising InvalidMap with the offending field's path."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        field, reason = _field_of(err)
        raise InvalidMap(name, prefix + field, reason) from None


def validate_list(name: str, model: type[_Loose], items: Any, prefix: str) -> list[Any]:
    if not isinstance(items, list):
        raise InvalidMap(name, prefix, "must be a list")
    return [validate(name, model, item, f"{prefix}.{i}.") for i, item in enumerate(items)]


