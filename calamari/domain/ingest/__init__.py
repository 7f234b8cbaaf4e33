"""Diffing each kind of sync object (Ceph map) into events on the aggregates: one module a kind
(`osd_map`, `pools`, `crush_map`, `mon`, `cluster_state`, `osd_metadata`), the host reports
(`hosts`) and what all sync objects go through (`sync_object`: versions, the cluster, bookkeeping).

Each handler validates the whole document first and only then returns the change to make, so a
bad map leaves the model as it was. No module is imported here (the modules import `Change` from
here, and the model imports the modules)."""

from collections.abc import Callable

from calamari.domain.cluster import Cluster

Change = Callable[[Cluster], None]  # what an ingested map does to the model, once it is validated
