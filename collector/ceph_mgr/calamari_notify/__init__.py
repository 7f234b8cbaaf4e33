"""calamari_notify: a ceph-mgr module that tells a local calamari collector, one line at a time,
that the mgr has a new map (docs/mgr-module.md). Standard library only: ceph-mgr runs it on the
system's python3, which has neither pyzmq nor msgpack."""

try:
    import mgr_module  # noqa: F401  (present only inside ceph-mgr)
except ImportError:  # imported elsewhere (the collector's tests, packaging checks): the channel alone
    pass
else:
    from .module import Module  # noqa: F401  (ceph-mgr looks for the MgrModule subclass here)
