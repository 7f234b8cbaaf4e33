"""The simulation spec: `hosts=50,osds=1000,pools=20,pgs=65536,seed=7,churn=0.01`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SimSpec:
    hosts: int = 3
    osds: int = 9
    pools: int = 2
    pgs: int = 128
    seed: int = 1
    churn: float = 0.0
    mons: int = 3

    @classmethod
    def parse(cls, spec: str) -> SimSpec:
        """`hosts=50,osds=1000,pools=20,pgs=65536,seed=7,churn=0.01`."""
        values: dict[str, Any] = {}
        types = {"hosts": int, "osds": int, "pools": int, "pgs": int, "seed": int, "churn": float,
                 "mons": int}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            key, sep, raw = part.partition("=")
            key = key.strip()
            if not sep or key not in types:
                raise ValueError(f"bad simulation spec item {part!r} (known: {', '.join(types)})")
            try:
                values[key] = types[key](raw.strip())
            except ValueError:
                raise ValueError(f"bad value for {key}: {raw!r}") from None
        result = cls(**values)
        if result.hosts < 1 or result.osds < 1 or result.pools < 0 or result.pgs < 0:
            raise ValueError("hosts and osds must be >= 1, pools and pgs >= 0")
        if result.osds < result.hosts:
            raise ValueError("need at least one OSD per host")
        if not 0.0 <= result.churn <= 1.0:
            raise ValueError("churn must be within 0..1")
        return result
