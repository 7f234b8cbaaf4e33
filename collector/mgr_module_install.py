"""`calamari-collector mgr-module install|uninstall|path`: put the calamari_notify module where
ceph-mgr loads modules from (its `mgr_module_path`), as a symbolic link to the module shipped with
this collector, so that upgrading the collector upgrades the module (docs/mgr-module.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from collector.ceph_mgr import MODULE_DIR, MODULE_NAME

DEFAULT_MGR_MODULE_PATH = "/usr/share/ceph/mgr"  # ceph-mgr's default mgr_module_path

NEXT_STEPS = (f"ceph-mgr reads its modules when it starts: restart every mgr daemon (a standby too), then\n"
              f"  ceph mgr module enable {MODULE_NAME}\n"
              f"and run calamari-collector on the active mgr's host (or see mgr/{MODULE_NAME}/server_addr).")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="calamari-collector mgr-module", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (("install", "link the module into the mgr module path"),
                       ("uninstall", "remove the link (disable the module first)")):
        command = commands.add_parser(name, help=text)
        command.add_argument("--path", default=DEFAULT_MGR_MODULE_PATH,
                             help=f"ceph-mgr's mgr_module_path (default {DEFAULT_MGR_MODULE_PATH})")
    commands.add_parser("path", help="print where the shipped module is")
    return parser


def install(module_path: Path) -> str:
    """Link the module into `module_path`; returns what was done. Raises OSError or ValueError."""
    if not module_path.is_dir():
        raise ValueError(f"{module_path} is not a directory (ceph-mgr's mgr_module_path?)")
    link = module_path / MODULE_NAME
    if link.is_symlink():
        if link.resolve() == MODULE_DIR:
            return f"{link} already links to {MODULE_DIR}"
        link.unlink()  # an older installation's link
    elif link.exists():
        raise ValueError(f"{link} exists and is not a link this command made; remove it first")
    link.symlink_to(MODULE_DIR, target_is_directory=True)
    return f"linked {link} -> {MODULE_DIR}"


def uninstall(module_path: Path) -> str:
    link = module_path / MODULE_NAME
    if not link.is_symlink():
        if link.exists():
            raise ValueError(f"{link} is not a link this command made; not removed")
        return f"{link} is not there"
    link.unlink()
    return f"removed {link}"


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "path":
        print(MODULE_DIR)
        return 0
    try:
        if args.command == "install":
            print(install(Path(args.path)))
            print(NEXT_STEPS)
        else:
            print(uninstall(Path(args.path)))
    except (OSError, ValueError) as exc:
        print(f"calamari-collector mgr-module {args.command}: {exc}", file=sys.stderr)
        return 2
    return 0
