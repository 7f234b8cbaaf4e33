"""This server's name among several sharing one event store: a random id kept in the data dir,
so that a restarted server is known as the same one (it may take back its own lease at once)."""

from __future__ import annotations

import os
import uuid

SERVER_ID_FILE = "server-id"


def load_or_create_server_id(data_dir: str) -> str:
    """The id in `<data_dir>/server-id`, made (owner-only) on first use. ValueError for a file
    that holds no id; OSError when the data dir cannot be read or written."""
    path = os.path.join(data_dir, SERVER_ID_FILE)
    try:
        with open(path, encoding="ascii") as f:
            text = f.read().strip()
    except FileNotFoundError:
        text = str(uuid.uuid4())
        fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(text + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(path + ".tmp", path)
        return text
    except UnicodeDecodeError:
        raise ValueError(f"{path} does not hold a server id; remove it to make a new one") from None
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise ValueError(f"{path} does not hold a server id; remove it to make a new one") from None
