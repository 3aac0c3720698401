"""`sqlops ingest status` lists every proxy writing into the table: two daemons (two proxies,
each with its own spool folder, as on two machines) write into one access_log on a real
server of each flavour; the status names both, with what each wrote and quarantined (the
numbers are what the test sent), and the lag of the one whose status file is on this
machine's configured spool."""

from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parents[2]))
from e2e.ingest_harness import DaemonProcess, status_files, wait_for, write_config

from sqlops.cli import main as sqlops_main
from sqlops.squid.protocol import encode_line, opening

pytestmark = pytest.mark.db
SENT = {"a": (40, 3), "b": (25, 0)}  # per proxy: good lines, bad lines


def _line(proxy: str, i: int) -> bytes:
    return (
        b"%d.%03d      4 192.0.2.%d TCP_MISS/200 %d GET http://%s.example/%d - HIER_DIRECT/192.0.2.9 text/html"
        % (
            1700000000 + i,
            i % 1000,
            1 if proxy == "a" else 2,
            1000 + i,
            proxy.encode(),
            i,
        )
    )


def _status(config: Path, *fmt: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert sqlops_main(["--config", str(config), "ingest", "status", *fmt]) == 0
    return out.getvalue()


def test_status_lists_every_proxy(db: Any, tmp_path: Path) -> None:
    server = db.server
    configs = {
        name: write_config(
            tmp_path / f"{name}.toml",
            host=server.host,
            port=server.port,
            user=server.user,
            password=server.password or None,
            database=db.name,
            spool=tmp_path / f"spool-{name}",
        )
        for name in SENT
    }
    assert sqlops_main(["--config", str(configs["a"]), "schema", "init"]) == 0
    daemons = {name: DaemonProcess(str(c), log=tmp_path / f"cache-{name}.log") for name, c in configs.items()}
    try:
        for name, (good, bad) in SENT.items():
            data = opening(3) + b"".join(encode_line(_line(name, i)) for i in range(good))
            data += b"".join(encode_line(b"not a squid line %d" % i) for i in range(bad))
            daemons[name].send(data)
        total = sum(good for good, _bad in SENT.values())
        wait_for(lambda: db.sql("SELECT COUNT(*) FROM access_log")[0][0] == total, 30, "every row")
        wait_for(
            lambda: (
                (found := status_files(tmp_path / "spool-a"))
                and found[0]["lines_quarantined"] == SENT["a"][1]
            ),
            10,
            "proxy a's status file",
        )
        report = json.loads(_status(configs["a"], "--format", "json"))
        proxies = {Path(p["spool"]).parent.name: p for p in report["proxies"]}
        assert set(proxies) == {"spool-a", "spool-b"}
        for name, (good, bad) in SENT.items():
            proxy = proxies[f"spool-{name}"]
            assert (proxy["rows_written"], proxy["lines_quarantined"], proxy["streams"]) == (good, bad, 1)
            assert proxy["position"] > 0 and proxy["last_commit_at"] and proxy["seconds_since_commit"] >= 0
        # Proxy a's daemon runs here with its status file on a's spool: its lag is known.
        assert proxies["spool-a"]["local_pid"] == daemons["a"].pid
        assert proxies["spool-a"]["lag_seconds"] is not None
        assert proxies["spool-b"]["local_pid"] is None and proxies["spool-b"]["lag_seconds"] is None
        text = _status(configs["a"])
        assert "Proxies writing into access_log (2):" in text
        for name in SENT:
            assert str(tmp_path / f"spool-{name}") in text
    finally:
        codes = {name: d.stop() for name, d in daemons.items()}
    assert codes == {"a": 0, "b": 0}
