"""Both images of the host honour the one image contract of deploy/services.yaml (runtime_host.image_contract).

flake.nix builds the published image (nix/image.nix holds its data, read here
with nix-instantiate); where Nix cannot build, scripts/docker/images.sh builds
a local one from the locked virtualenv. Each is checked against the contract:
entrypoint, non-root user, ports, default arguments, environment, contracts,
and for the local build, that it runs as that user on a read-only root.
"""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

import pytest
from ci.service_topology import ImageContract, Topology

from tests.appliance.nix_eval import nix_eval
from tests.appliance.tooling import REPOSITORY
from tests.support.provisioning.containers import docker_unreachable_reason
from tests.support.provisioning.images import IMAGES_ENV, service_image

pytestmark = pytest.mark.appliance


def _contract(topology: Topology) -> ImageContract:
    contract = topology.runtime_host.image_contract
    assert contract is not None, "deploy/services.yaml: runtime_host.image_contract is missing"
    return contract


def test_the_flake_image_honours_the_image_contract(request: pytest.FixtureRequest, topology: Topology) -> None:
    contract, host = _contract(topology), topology.runtime_host
    image = nix_eval(request.config, "import ./nix/image.nix")
    assert (image["user"], image["uid"], image["gid"]) == (contract.user, contract.uid, contract.gid)
    assert image["ports"] == dict(host.ports)
    assert image["args"] == list(host.args)
    assert image["contractsDir"] == contract.contracts_dir
    assert image["contract"] == host.env["ONEX_CONTRACT"]
    assert image["contract"].startswith(contract.contracts_dir + "/")
    flake = (REPOSITORY / "flake.nix").read_text(encoding="utf-8")
    entrypoint = re.search(r"Entrypoint = \[\s*\"\$\{venv\}/bin/(\S+)\"\s*((?:\"[^\"]*\"\s*)*)\];", flake)
    assert entrypoint is not None, 'flake.nix: no Entrypoint = [ "${venv}/bin/..." ... ]'
    assert [entrypoint.group(1), *re.findall(r"\"([^\"]*)\"", entrypoint.group(2))] == list(contract.entrypoint)
    for name, value in contract.env.items():
        assert f'"{name}={value}"' in flake, f"flake.nix: the image's Env lacks {name}={value}"


def _docker(*arguments: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *arguments], capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def local_host_image(request: pytest.FixtureRequest) -> str:
    reason = docker_unreachable_reason() or (None if IMAGES_ENV.is_file() else f"{IMAGES_ENV} is missing")
    if reason is not None:
        message = f"the local host image needs a Docker engine and `make docker`: {reason}"
        if request.config.getoption("--require-services", default=False):
            pytest.fail(f"{message} (--require-services is set)", pytrace=False)
        pytest.skip(message)
    chosen = service_image("runtime_host")
    if not chosen.is_local_build:
        pytest.skip(f"the stack runs {chosen.image} ({chosen.source}), not a local build")
    return chosen.image


@pytest.mark.containers
def test_the_local_host_image_honours_the_image_contract(local_host_image: str, topology: Topology) -> None:
    contract, host = _contract(topology), topology.runtime_host
    inspected = _docker("image", "inspect", local_host_image)
    assert inspected.returncode == 0, inspected.stderr
    config: dict[str, Any] = json.loads(inspected.stdout)[0]["Config"]
    assert config["User"] == f"{contract.uid}:{contract.gid}"
    assert config["Entrypoint"][0].endswith("/" + contract.entrypoint[0])
    assert config["Entrypoint"][1:] == list(contract.entrypoint[1:])
    assert config["Cmd"] == list(host.args)
    assert set(config["ExposedPorts"]) == {f"{port}/tcp" for port in host.ports.values()}
    environment = dict(item.split("=", 1) for item in config["Env"])
    assert {**host.env, **contract.env}.items() <= environment.items()
    assert config["Labels"]["io.onex.local-build"] == "true"
    assert "org.opencontainers.image.description" in config["Labels"]


@pytest.mark.containers
def test_the_local_host_image_runs_as_its_user_on_a_read_only_root(local_host_image: str, topology: Topology) -> None:
    contract = _contract(topology)
    assert contract.read_only_root
    probe = (
        "import os, pathlib, pwd; "
        "print(os.getuid(), os.getgid(), pwd.getpwuid(os.getuid()).pw_name); "
        "pathlib.Path('/app/probe').write_text('x')"
    )
    ran = _docker(
        "run", "--rm", "--read-only", "--network", "none", "--entrypoint", "python", local_host_image, "-c", probe
    )
    assert ran.stdout.split() == [str(contract.uid), str(contract.gid), contract.user], ran.stderr
    assert "Read-only file system" in ran.stderr, "the root filesystem was writable"
    dev_contract = f"{contract.contracts_dir}/runtime/dev_runtime_host.yaml"
    validated = _docker(
        "run",
        "--rm",
        "--read-only",
        "--network",
        "none",
        "--entrypoint",
        contract.entrypoint[0],
        local_host_image,
        "validate",
        dev_contract,
    )
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert validated.stdout.startswith(f"ok: {dev_contract}"), validated.stdout
