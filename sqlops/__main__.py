"""`python -m sqlops` runs the same CLI as the `sqlops` console script."""

from sqlops.cli import run

run()
