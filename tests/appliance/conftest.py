"""Fixtures of the appliance checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.appliance.k8s_render import overlay_renders
from tests.appliance.tooling import REPOSITORY

from service_topology import Topology, load_topology  # isort: skip  (ci/ is put on sys.path by tooling)


@pytest.fixture(scope="session")
def repository() -> Path:
    return REPOSITORY


@pytest.fixture(scope="session")
def topology() -> Topology:
    return load_topology(REPOSITORY)


__all__ = ["overlay_renders", "repository", "topology"]
