"""Make Debian's python3-rados importable from the project's virtualenv, and nothing else of
Debian's dist-packages: a .pth file adds a private folder holding links to the rados module only."""

import glob
import os
import sys


def main(venv: str) -> int:
    found = glob.glob("/usr/lib/python3/dist-packages/rados*.so")
    if not found:
        print("python3-rados not installed; librados unavailable (the ceph CLI fallback still works)")
        return 1
    site = glob.glob(os.path.join(venv, "lib", "python3*", "site-packages"))[0]
    private = os.path.abspath(os.path.join(venv, "debian-rados"))
    os.makedirs(private, exist_ok=True)
    for path in found:
        link = os.path.join(private, os.path.basename(path))
        if not os.path.lexists(link):
            os.symlink(path, link)
    with open(os.path.join(site, "debian_rados.pth"), "w") as f:
        f.write(private + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else ".venv"))
