"""Request bodies of the API as pydantic models: they validate input and generate the schemas of
/openapi.json. Unknown fields are rejected."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from calamari.domain.password_policy import MIN_PASSWORD_LENGTH
from calamari.domain.user import EMAIL_PATTERN

PoolName = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # JSON types as given: "yes" is no boolean


class Login(Strict):
    username: str = Field(min_length=1, max_length=150)
    password: str = Field(min_length=1, max_length=1024)


class UserCreate(Strict):
    username: str = Field(min_length=1, max_length=150, pattern=r"^[A-Za-z0-9_.@+-]+$")
    password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=1024)
    role: Literal["admin", "operator", "read-only"] = "read-only"
    email: str = Field(default="", max_length=254, pattern=EMAIL_PATTERN)


class UserUpdate(Strict):
    password: str | None = Field(default=None, min_length=MIN_PASSWORD_LENGTH, max_length=1024)
    # required to change one's own password (not for an admin resetting another user's)
    current_password: str | None = Field(default=None, min_length=1, max_length=1024)
    role: Literal["admin", "operator", "read-only"] | None = None
    email: str | None = Field(default=None, max_length=254, pattern=EMAIL_PATTERN)


class PoolCreate(Strict):
    name: str = PoolName
    pg_num: int = Field(ge=1, le=1 << 20)
    pgp_num: int | None = Field(default=None, ge=1, le=1 << 20)
    size: int | None = Field(default=None, ge=1, le=20)
    min_size: int | None = Field(default=None, ge=1, le=20)
    crush_ruleset: int | None = Field(default=None, ge=0, le=1 << 20)
    erasure_code_profile: str | None = Field(default=None, min_length=1, max_length=100)
    quota_max_objects: int | None = Field(default=None, ge=0, le=1 << 62)
    quota_max_bytes: int | None = Field(default=None, ge=0, le=1 << 62)
    pg_autoscale_mode: Literal["on", "off", "warn"] | None = None


class PoolUpdate(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")
    pg_num: int | None = Field(default=None, ge=1, le=1 << 20)
    pgp_num: int | None = Field(default=None, ge=1, le=1 << 20)
    size: int | None = Field(default=None, ge=1, le=20)
    min_size: int | None = Field(default=None, ge=1, le=20)
    crush_ruleset: int | None = Field(default=None, ge=0, le=1 << 20)
    hashpspool: bool | None = None
    quota_max_objects: int | None = Field(default=None, ge=0, le=1 << 62)
    quota_max_bytes: int | None = Field(default=None, ge=0, le=1 << 62)
    pg_autoscale_mode: Literal["on", "off", "warn"] | None = None


POOL_READ_ONLY = ("id", "full", "type", "crash_replay_interval", "epoch", "crush_rule", "application")
POOL_UPDATE_READ_ONLY = (*POOL_READ_ONLY, "erasure_code_profile")


class OsdUpdate(Strict):
    up: bool | None = None
    in_: bool | None = Field(default=None, alias="in")
    reweight: float | None = Field(default=None, ge=0.0, le=1.0, allow_inf_nan=False)

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=False)


OSD_READ_ONLY = ("id", "uuid", "server", "pools", "valid_commands", "public_addr", "cluster_addr",
                 "crush_node_ancestry", "backend_device_node", "backend_partition_path", "osd_data",
                 "osd_journal", "primary_affinity", "crush_weight", "device_class")


INT32_MAX = (1 << 31) - 1  # OSD ids and CRUSH ids are 32-bit in Ceph
OsdId = Annotated[int, Field(ge=0, le=INT32_MAX)]


class OsdCommandMany(Strict):
    ids: list[OsdId] = Field(min_length=1, max_length=10000)


class OsdConfigUpdate(Strict):
    pause: bool | None = None
    noup: bool | None = None
    nodown: bool | None = None
    noout: bool | None = None
    noin: bool | None = None
    nobackfill: bool | None = None
    norebalance: bool | None = None
    norecover: bool | None = None
    noscrub: bool | None = None
    nodeep_scrub: bool | None = Field(default=None, alias="nodeep-scrub")
    nosnaptrim: bool | None = None

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=False)


class CliCommand(Strict):
    command: str | list[str] = Field(min_length=1)


CrushName = Field(min_length=1, max_length=100, pattern=r"^[-_.0-9a-zA-Z]+$")


class CrushRuleCreate(Strict):
    name: str = CrushName
    type: Literal["replicated", "erasure"] | None = None  # default: erasure with a profile, else replicated
    root: str | None = Field(default=None, min_length=1, max_length=100)
    failure_domain: str | None = Field(default=None, min_length=1, max_length=100)
    device_class: str | None = Field(default=None, min_length=1, max_length=100)
    erasure_code_profile: str | None = Field(default=None, min_length=1, max_length=100)


MAX_CRUSH_MAP_TEXT = 16 * 1024 * 1024  # a 10,000-OSD map is about 1 MiB of text


class CrushMapReplace(Strict):
    crush_map: str = Field(min_length=1, max_length=MAX_CRUSH_MAP_TEXT)  # the text `crushtool -d` prints


class CrushRuleUpdate(Strict):
    name: str = CrushName  # Ceph can only rename a rule


CRUSH_RULE_READ_ONLY = ("id", "ruleset", "min_size", "max_size", "steps", "osd_count")
CRUSH_RULE_UPDATE_READ_ONLY = (*CRUSH_RULE_READ_ONLY, "type")


MAX_CRUSH_WEIGHT = 1000.0  # CRUSH weights are conventionally TiB; more than a PiB on one device is a typo


class CrushItem(Strict):
    """One child of a bucket: an OSD (id >= 0) or a bucket (id < 0)."""

    id: int = Field(ge=-(1 << 31), le=(1 << 31) - 1)  # le, not lt: OpenAPI 3.0 has no numeric exclusiveMaximum
    weight: float | None = Field(default=None, ge=0.0, le=MAX_CRUSH_WEIGHT, allow_inf_nan=False)
    pos: int | None = Field(default=None, ge=0, le=INT32_MAX)  # accepted for round trips of GET; Ceph picks positions


# a CRUSH node by id or by name
CrushRef = Annotated[int, Field(ge=-(1 << 31), le=INT32_MAX)] | Annotated[str, Field(min_length=1, max_length=100)]


class CrushNodeCreate(Strict):
    name: str = CrushName
    bucket_type: str = Field(min_length=1, max_length=100)
    parent: CrushRef | None = None  # the parent node's id or name; none: a new top-level bucket
    items: list[CrushItem] | None = Field(default=None, max_length=10000)  # moved into the new bucket


class CrushNodeUpdate(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=100, pattern=r"^[-_.0-9a-zA-Z]+$")
    parent: CrushRef | None = None
    items: list[CrushItem] | None = Field(default=None, max_length=10000)  # the bucket's full new list of children


CRUSH_NODE_READ_ONLY = ("id", "weight", "alg", "hash")
CRUSH_NODE_UPDATE_READ_ONLY = (*CRUSH_NODE_READ_ONLY, "bucket_type")
