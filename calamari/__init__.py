"""calamari: management and monitoring service for Ceph storage clusters."""

__version__ = "0.1.0"
