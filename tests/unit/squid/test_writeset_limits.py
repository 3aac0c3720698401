"""Batch sizes on a Galera node stay under the writeset limits (sqlops.cluster.writeset)."""

from __future__ import annotations

from sqlops.cluster.writeset import LOAD_DATA_SPLIT_ROWS, WRITESET_BYTES_PER_LINE, WritesetLimits

DEFAULT_SIZE = 2147483647  # MariaDB 10.11's wsrep_max_ws_size


def test_defaults_leave_the_configured_batch_alone() -> None:
    assert WritesetLimits(0, DEFAULT_SIZE, False).batch_lines(20_000) == (20_000, None)


def test_row_limit_counts_the_checkpoint_row() -> None:
    lines, reason = WritesetLimits(50, DEFAULT_SIZE, False).batch_lines(20_000)
    assert lines == 49 and reason == "wsrep_max_ws_rows = 50"  # 49 lines + the checkpoint = 50


def test_size_limit_allows_a_pessimistic_size_per_line() -> None:
    size = 1 << 20
    lines, reason = WritesetLimits(0, size, False).batch_lines(20_000)
    assert lines == size // WRITESET_BYTES_PER_LINE and reason == f"wsrep_max_ws_size = {size}"


def test_load_data_splitting_keeps_a_load_data_whole() -> None:
    lines, reason = WritesetLimits(0, DEFAULT_SIZE, True).batch_lines(20_000)
    assert lines == LOAD_DATA_SPLIT_ROWS and reason == "wsrep_load_data_splitting = ON"


def test_the_tightest_limit_wins_and_never_below_one_line() -> None:
    assert WritesetLimits(1, DEFAULT_SIZE, True).batch_lines(500) == (1, "wsrep_max_ws_rows = 1")
