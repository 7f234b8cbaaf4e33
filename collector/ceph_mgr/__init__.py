"""The ceph-mgr module shipped with the collector (docs/mgr-module.md). `calamari_notify/` is the
module's own folder, which `calamari-collector mgr-module install` links into ceph-mgr's
`mgr_module_path`; the collector itself never imports it."""

from __future__ import annotations

from pathlib import Path

MODULE_NAME = "calamari_notify"
MODULE_DIR = Path(__file__).resolve().parent / MODULE_NAME
