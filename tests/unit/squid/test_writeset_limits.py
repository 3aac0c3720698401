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


def test_exact_batches_never_hold_a_line_more() -> None:
    """A whole read is normally added to a batch at once (it may end past max_rows); under a
    writeset limit the batch stops at max_rows exactly, and every line is still in a batch."""
    import io

    from sqlops.schema.definitions import access_log_def
    from sqlops.squid.batcher import stream_batches
    from sqlops.squid.logformat import compile_format
    from sqlops.squid.rows import RowEncoder, columns_from_definition

    columns = columns_from_definition(access_log_def().columns)

    def encoder(sample: list[bytes]) -> RowEncoder:
        return RowEncoder(compile_format("squid"), columns, "+00:00", "tsv")

    text = b"".join(
        b"1700000000.%03d      4 192.0.2.1 TCP_MISS/200 639 GET http://h/%d - HIER_DIRECT/192.0.2.9 text/html\n"
        % (i % 1000, i)
        for i in range(1000)
    )
    loose = list(stream_batches(io.BytesIO(text), "load:1", 0, encoder, max_rows=49))
    assert max(b.size for b in loose) > 49  # what the limit must prevent
    exact = list(stream_batches(io.BytesIO(text), "load:1", 0, encoder, max_rows=49, exact=True))
    assert max(b.size for b in exact) == 49
    assert sum(b.rows for b in exact) == 1000
    assert [b.start for b in exact[1:]] == [b.end for b in exact[:-1]]
