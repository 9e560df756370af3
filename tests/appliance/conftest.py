"""Fixtures of the appliance checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from ci.service_topology import Topology, load_topology

from tests.appliance.k8s_render import overlay_renders
from tests.appliance.tooling import REPOSITORY


@pytest.fixture(scope="session")
def repository() -> Path:
    return REPOSITORY


@pytest.fixture(scope="session")
def topology() -> Topology:
    return load_topology(REPOSITORY)


__all__ = ["overlay_renders", "repository", "topology"]
