"""The pacer that keeps the collector's steady reads within a share of a core (no clocks: times
are given)."""

from __future__ import annotations

import pytest

from collector.pacing import CpuPacer


def test_a_cheap_read_may_run_again_after_the_minimum_interval() -> None:
    pacer = CpuPacer(0.03, min_interval=0.05)
    assert pacer.due(0.0)
    pacer.ran(0.0, 0.0003)  # 0.3 ms / 3 % = 10 ms: below the minimum
    assert not pacer.due(0.049)
    assert pacer.due(0.05)


def test_a_costly_read_is_spaced_by_its_cost_over_the_share() -> None:
    pacer = CpuPacer(0.03)
    pacer.ran(100.0, 0.3)
    assert pacer.interval == pytest.approx(10.0)
    assert not pacer.due(109.9)
    assert pacer.due(110.0)


def test_spacing_never_exceeds_the_maximum() -> None:
    pacer = CpuPacer(0.01, max_interval=60.0)
    pacer.ran(0.0, 5.0)  # would be 500 s
    assert pacer.interval == 60.0
    assert pacer.due(60.0)


def test_one_unusually_costly_run_weighs_only_partly() -> None:
    pacer = CpuPacer(0.03)
    for start in range(10):
        pacer.ran(float(start), 0.0003)
    pacer.ran(10.0, 0.03)  # a hundred times the usual, once
    assert pacer.interval < 0.03 / 0.03 / 2  # not the whole second a cost of 30 ms alone would ask
    assert pacer.interval > 0.0003 / 0.03


def test_release_lets_the_next_run_start_at_once() -> None:
    pacer = CpuPacer(0.03)
    pacer.ran(0.0, 1.0)
    assert not pacer.due(1.0)
    pacer.release()
    assert pacer.due(1.0)
    pacer.ran(1.0, 1.0)  # and the pacing goes on after it
    assert not pacer.due(2.0)


@pytest.mark.parametrize("share", [0.0, -0.1, 1.5])
def test_a_share_outside_one_core_is_refused(share: float) -> None:
    with pytest.raises(ValueError, match="CPU share"):
        CpuPacer(share)


def test_intervals_out_of_order_are_refused() -> None:
    with pytest.raises(ValueError, match="intervals"):
        CpuPacer(0.05, min_interval=10.0, max_interval=1.0)
