"""Users read by API threads while other threads add users: no read may fail because the table
changed size under it; and a token issued while another thread rebuilds the token index must
work at once."""

import sys
import threading

from api_support import PASSWORD, Harness


class ReleaseHook:
    """Wraps the service lock and runs `hook` once, right after the next release by the thread that
    armed it: what another thread would do at that moment."""

    def __init__(self, lock) -> None:
        self.lock = lock
        self.hook = None

    def __enter__(self):
        return self.lock.__enter__()

    def __exit__(self, *exc):
        result = self.lock.__exit__(*exc)
        hook, self.hook = self.hook, None
        if hook is not None:
            hook()
        return result

    def __getattr__(self, name):
        return getattr(self.lock, name)


def test_a_token_issued_while_the_index_is_rebuilt_works(tmp_path, capture_dir):
    api = Harness(str(tmp_path), capture_dir, steps=())
    try:
        auth = api.auth
        issued = []
        auth._index = None  # the next authentication rebuilds the index
        hook = ReleaseHook(api.service.lock)
        api.service.lock = hook
        # Between the rebuild (under the lock) and its use, another thread logs in.
        hook.hook = lambda: issued.append(auth.login("viewer", PASSWORD)[0])
        assert auth.authenticate("no such token") is None
        api.service.lock = hook.lock
        assert issued
        assert auth.authenticate(issued[0]) is not None
    finally:
        api.close()


def test_users_are_listed_while_users_are_added(tmp_path, capture_dir):
    api = Harness(str(tmp_path), capture_dir, steps=())
    auth = api.auth
    for n in range(200):  # a long table: a read takes long enough for additions to land in it
        auth.add_user(f"reader{n}", PASSWORD, "read-only", "test")
    stop = threading.Event()
    added = [0]
    failures: list[str] = []

    def churn() -> None:
        while not stop.is_set() and added[0] < 50:
            auth.add_user(f"new{added[0]}", PASSWORD, "read-only", "test")
            added[0] += 1

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often, so reads overlap additions
    writer = threading.Thread(target=churn, daemon=True)
    writer.start()
    try:
        while writer.is_alive():
            try:
                auth.users()
            except RuntimeError as err:
                failures.append(str(err))
    finally:
        sys.setswitchinterval(interval)
        stop.set()
        writer.join(30)
        api.close()
    assert added[0] == 50
    assert failures == []
