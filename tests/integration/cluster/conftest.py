"""Fixtures of the multi-server tests: a 3-node Galera cluster and a primary with one replica
per flavour, each started once per session (tests/support/topology.py) and removed at the end.

They need the Docker engine and the locally built images; without them the tests fail with
the reason (never skip). SQLOPS_TEST_FLAVOURS narrows the replica sets as elsewhere.

The longest scenarios carry the marker `cluster_long` (node restart with SST, primary
fail-over on a topology of their own). Under CI (CI=true) they are deselected, so that CI runs a
representative subset in a few minutes, unless SQLOPS_TEST_CLUSTER_LONG=1; elsewhere they run
(`-m "not cluster_long"` leaves them out by hand).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from support.servers import FLAVOURS, ServerUnavailable, docker_available
from support.topology import Topology, database_on, start_galera, start_replica_set

FLAVOURS_CHOSEN = [
    f for f in os.environ.get("SQLOPS_TEST_FLAVOURS", ",".join(FLAVOURS)).split(",") if f.strip() in FLAVOURS
]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "cluster_long: a long multi-server failure scenario (deselected under CI, see conftest)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if (
        os.environ.get("CI", "").lower() not in ("1", "true")
        or os.environ.get("SQLOPS_TEST_CLUSTER_LONG") == "1"
    ):
        return
    long = [item for item in items if item.get_closest_marker("cluster_long")]
    if long:
        config.hook.pytest_deselected(items=long)
        items[:] = [item for item in items if not item.get_closest_marker("cluster_long")]


def _need_docker() -> None:
    if not docker_available():
        pytest.fail(
            "the cluster tests need a Docker engine (DOCKER_HOST=unix:///run/sqlops-docker.sock; "
            "start one with `sudo .ci/docker-engine.sh start && sudo docker/build-images.sh`)",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def galera() -> Iterator[Topology]:
    _need_docker()
    try:
        topo = start_galera(3)
    except ServerUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield topo
    finally:
        topo.remove()


def _replica_set(flavour: str) -> Iterator[Topology]:
    _need_docker()
    try:
        topo = start_replica_set(flavour, replicas=1)
    except ServerUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield topo
    finally:
        topo.remove()


@pytest.fixture(scope="session", params=FLAVOURS_CHOSEN)
def replica_set(request: pytest.FixtureRequest) -> Iterator[Topology]:
    yield from _replica_set(request.param)


@pytest.fixture(scope="module", params=FLAVOURS_CHOSEN)
def own_replica_set(request: pytest.FixtureRequest) -> Iterator[Topology]:
    """A primary and a replica for one test module alone (a fail-over test ends replication)."""
    yield from _replica_set(request.param)


@pytest.fixture
def galera_db(galera: Topology) -> Iterator[str]:
    with database_on(galera) as name:
        yield name


@pytest.fixture
def replica_db(replica_set: Topology) -> Iterator[str]:
    with database_on(replica_set) as name:
        yield name
