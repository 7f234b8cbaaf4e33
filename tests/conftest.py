import os

import pytest

FIXTURES = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "shared", "fixtures",
                                        "ceph-pacific-3osd"))


@pytest.fixture(scope="session")
def capture_dir() -> str:
    if not os.path.isdir(FIXTURES):
        pytest.skip(f"captures not found at {FIXTURES}")
    return FIXTURES
