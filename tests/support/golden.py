"""Golden files: expected outputs we write and check by hand, compared byte for byte.

`assert_golden(actual, path)` compares `actual` with the file; with SQLOPS_UPDATE_GOLDEN=1 it
writes the file instead (then review the diff before committing: goldens are checked by hand).
`load_pairs(folder, "in", "out")` yields (name, input_path, expected_path) for scenario folders.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path


def assert_golden(actual: str | bytes, path: Path) -> None:
    data = actual.encode() if isinstance(actual, str) else actual
    if os.environ.get("SQLOPS_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return
    assert path.exists(), f"golden file {path} is missing (write it with SQLOPS_UPDATE_GOLDEN=1, then review)"
    expected = path.read_bytes()
    if data != expected:
        import difflib

        diff = "\n".join(
            difflib.unified_diff(
                expected.decode(errors="replace").splitlines(),
                data.decode(errors="replace").splitlines(),
                fromfile=str(path),
                tofile="actual",
                lineterm="",
            )
        )
        raise AssertionError(f"output differs from golden file {path}:\n{diff[:6000]}")


def load_pairs(folder: Path, in_suffix: str, out_suffix: str) -> Iterator[tuple[str, Path, Path]]:
    for source in sorted(folder.glob(f"*.{in_suffix}")):
        yield source.stem, source, source.with_suffix(f".{out_suffix}")
