"""configs/sqlops.example.toml loads, and documents every key of the partition, serve and
rollup sections."""

from __future__ import annotations

import re
from pathlib import Path

from sqlops.config import PartitionTableConfig, RollupConfig, ServeConfig, load_config, scalar_keys

EXAMPLE = Path(__file__).resolve().parents[3] / "configs" / "sqlops.example.toml"


def test_example_config_loads_with_the_documented_defaults() -> None:
    loaded = load_config(EXAMPLE, env={"HOME": "/nonexistent"})
    assert loaded.config.partitions["access_log"] == PartitionTableConfig()
    assert loaded.config.serve == ServeConfig()
    assert loaded.config.rollup == RollupConfig()


def test_every_key_is_documented() -> None:
    text = EXAMPLE.read_text()
    for cls in (PartitionTableConfig, ServeConfig, RollupConfig):
        for key in scalar_keys(cls):
            assert re.search(rf"^#? ?{key} = ", text, re.MULTILINE), (
                f"{cls.__name__}.{key} is not in the example"
            )
