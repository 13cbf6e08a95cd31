"""The fault table's counts can say something is wrong: each kind of damage is counted."""

from __future__ import annotations

from tests.fault.counts import Counts, count


def test_a_clean_run_counts_nothing() -> None:
    assert count(["a", "b", "c"], ["a", "b", "c"]) == Counts(3, 0, 0, 0)


def test_lost_twice_and_out_of_order_are_each_counted() -> None:
    assert count(["a", "b", "c", "d"], ["a", "c", "b", "c"]) == Counts(
        events=4, lost=1, applied_twice=1, out_of_order=1
    )
    assert count(["a", "b", "c"], ["c", "b", "a"]).out_of_order == 2
