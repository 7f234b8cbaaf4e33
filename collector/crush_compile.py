"""CRUSH text -> the binary map `osd setcrushmap` takes, compiled by Ceph's own crushtool (argv
list, never a shell; temporary files; bounded time)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

COMPILE_TIMEOUT_S = 30.0


class CrushCompileError(RuntimeError):
    """crushtool refused the text (or is missing); the message is what it said."""


def compile_crush_text(text: str, timeout_s: float = COMPILE_TIMEOUT_S) -> bytes:
    crushtool = shutil.which("crushtool")
    if crushtool is None:
        raise CrushCompileError("crushtool is not installed on the collector's host (Debian: ceph-base)")
    with tempfile.TemporaryDirectory(prefix="calamari-crush-") as work:
        source = os.path.join(work, "crushmap.txt")
        compiled = os.path.join(work, "crushmap.bin")
        with open(source, "w", encoding="utf-8") as f:
            f.write(text)
        try:
            done = subprocess.run([crushtool, "-c", source, "-o", compiled], capture_output=True,
                                  timeout=timeout_s, check=False, cwd=work)
        except subprocess.TimeoutExpired:
            raise CrushCompileError(f"crushtool did not compile the map within {timeout_s:.0f} s") from None
        # crushtool names the file in its messages ("<file>:12 error: ..."): say "line 12" instead
        message = (done.stderr + done.stdout).decode("utf-8", "replace").replace(f"{source}:", "line ").strip()
        if done.returncode != 0 or not os.path.exists(compiled):
            raise CrushCompileError(f"crushtool could not compile the CRUSH map: {message or 'no reason given'}")
        with open(compiled, "rb") as f:
            return f.read()
