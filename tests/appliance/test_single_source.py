"""deploy/services.yaml is the one place images, ports, arguments and environment are declared.

deploy/compose, deploy/k8s and the image (nix/image.nix, flake.nix) are compared
with it after their own tools render them; the Dagger pipeline is checked to
read it instead of repeating it.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from ci.service_topology import Service, Topology

from tests.appliance.host_contract import assert_host_would_start
from tests.appliance.k8s_render import OVERLAYS, OverlayRenders, host_container, pod_environment
from tests.appliance.nix_eval import nix_eval
from tests.appliance.test_compose import ENV_EXAMPLE, ONE_SHOT, render_compose
from tests.appliance.tooling import REPOSITORY, unavailable

pytestmark = pytest.mark.appliance

ENDPOINT_VARIABLES = {
    "ONEX_TEST_POSTGRES_DSN",
    "ONEX_TEST_VAULT_ADDR",
    "ONEX_TEST_VAULT_TOKEN",
    "ONEX_TEST_CONSUL_ADDR",
    "ONEX_TEST_KAFKA_BOOTSTRAP",
}


def _compose_ports(service: dict[str, Any]) -> list[int]:
    """Container-side ports, whether exposed to the network or published on the host."""
    exposed = [int(str(port)) for port in service.get("expose", [])]
    # `docker-compose config` writes published ports as "127.0.0.1:8080:8080/tcp".
    published = [int(str(port).split(":")[-1].split("/")[0]) for port in service.get("ports", [])]
    return sorted(exposed + published)


def _expected_healthcheck(service: Service) -> tuple[list[str], str]:
    """(exact test command, or [] for HTTP) and the URL an HTTP probe must request."""
    if service.readiness.command:
        return ["CMD", *service.readiness.command], ""
    assert service.readiness.http is not None
    return [], f"http://127.0.0.1:{service.readiness.http.port}{service.readiness.http.path}"


def test_compose_runs_exactly_the_declared_services(request: pytest.FixtureRequest, topology: Topology) -> None:
    compose = render_compose(request.config, ENV_EXAMPLE)["services"]
    assert set(compose) - ONE_SHOT == {service.alias for service in topology.services.values()}
    for service in topology.services.values():
        rendered = compose[service.alias]
        where = f"deploy/compose service {service.alias!r}"
        assert rendered["image"] == service.image, where
        assert _compose_ports(rendered) == sorted(service.ports.values()), where
        command, url = _expected_healthcheck(service)
        test = rendered["healthcheck"]["test"]
        if command:
            assert test == command, f"{where}: healthcheck {test}"
        else:
            assert url in " ".join(test), f"{where}: healthcheck {test} does not request {url}"
        if service is topology.runtime_host:
            secrets = set(service.secret_env)
            environment = {name: value for name, value in rendered["environment"].items() if name not in secrets}
            assert environment == topology.runtime_host_environment(), where
            assert secrets <= set(rendered["environment"]), f"{where} does not supply {sorted(secrets)}"
            assert rendered["command"] == list(service.args), where
        else:
            assert rendered.get("environment", {}) == service.own_environment(), where
            assert rendered.get("command", []) == list(service.command), where


PRODUCTION_CONTRACT = REPOSITORY / "contracts" / "runtime" / "infra_runtime_host.yaml"


def _contract_in_image(topology: Topology) -> Path:
    """The image copies contracts/ to /etc/onex/contracts: the same file, by the same relative path."""
    in_image = Path(topology.runtime_host.env["ONEX_CONTRACT"]).relative_to("/etc/onex")
    return REPOSITORY / in_image


def test_host_would_start_as_compose_runs_it(request: pytest.FixtureRequest, topology: Topology) -> None:
    host = render_compose(request.config, ENV_EXAMPLE)["services"][topology.runtime_host.alias]
    contract = _contract_in_image(topology)
    assert_host_would_start(request.config, contract, host["environment"], host["command"], "deploy/compose")


def test_host_would_start_as_the_dagger_e2e_runs_it(request: pytest.FixtureRequest, topology: Topology) -> None:
    """Its environment is services.yaml's, plus one generated value per secret_env name."""
    environment = topology.runtime_host_environment()
    environment |= {name: f"generated-{name.lower()}" for name in topology.runtime_host.secret_env}
    contract = _contract_in_image(topology)
    assert_host_would_start(request.config, contract, environment, topology.runtime_host.args, "dagger call e2e")


def test_kafka_advertises_the_name_it_is_bound_by(topology: Topology) -> None:
    kafka = topology.services["kafka"]
    environment = kafka.own_environment()
    assert environment["KAFKA_ADVERTISED_LISTENERS"] == f"PLAINTEXT://{kafka.alias}:{kafka.primary_port}"
    bootstrap = topology.runtime_host_environment()["KAFKA_BOOTSTRAP_SERVERS"]
    assert bootstrap == f"{kafka.alias}:{kafka.primary_port}"


_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:-)?")


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)
    elif isinstance(node, str):
        yield node


def test_runtime_environment_names_exactly_what_the_production_contract_interpolates(
    request: pytest.FixtureRequest, topology: Topology
) -> None:
    """A variable the contract needs but nobody sets, or one set under a name the contract never reads
    (CONSUL_ADDR for CONSUL_HTTP_ADDR), would otherwise surface only as a wrong address at run time."""
    if not PRODUCTION_CONTRACT.is_file():
        unavailable(request.config, f"{PRODUCTION_CONTRACT.relative_to(REPOSITORY)} does not exist yet")
    # Values only, as the loader interpolates them (a comment mentioning ${VAR} is not a reference).
    document = yaml.safe_load(PRODUCTION_CONTRACT.read_text(encoding="utf-8"))
    references = [reference for value in _strings(document) for reference in _REFERENCE.findall(value)]
    read = {name for name, _ in references}
    required = {name for name, has_default in references if not has_default}
    provided = set(topology.runtime_host_environment())
    declared = {name for service in topology.backing_services for name in service.runtime_env}
    assert required <= provided, f"the contract needs {sorted(required - provided)}; no runtime_env provides them"
    assert declared <= read, f"runtime_env sets {sorted(declared - read)}, which the contract never reads"


def test_test_endpoints_are_the_handler_fixtures_variables(topology: Topology) -> None:
    assert set(topology.test_environment()) == ENDPOINT_VARIABLES


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_k8s_runs_the_declared_image_ports_arguments_and_environment(
    overlay_renders: OverlayRenders, topology: Topology, overlay: str
) -> None:
    render = overlay_renders.render(overlay)
    host = topology.runtime_host
    container = host_container(render.one("Deployment"))
    # The repository services.yaml names; the reference is per commit (test_k8s_manifests.py).
    assert container["image"].partition("@")[0].partition(":")[0] == host.image_repository
    assert container["args"] == list(host.args)
    environment = pod_environment(render)
    assert environment["ONEX_CONTRACT"] == host.env["ONEX_CONTRACT"]
    needed = {name for service in topology.backing_services for name in service.runtime_env}
    assert needed <= set(environment), f"the pod lacks {sorted(needed - set(environment))}"
    service_ports = {port["name"]: port["port"] for port in render.one("Service")["spec"]["ports"]}
    assert service_ports == dict(host.ports)


def test_image_is_built_as_declared(
    request: pytest.FixtureRequest, overlay_renders: OverlayRenders, topology: Topology
) -> None:
    image = nix_eval(request.config, "import ./nix/image.nix")
    host = topology.runtime_host
    version = tomllib.loads((REPOSITORY / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    assert image["name"] == host.image_repository
    assert host.image_tag == version, "flake.nix tags the image with pyproject.toml's version"
    assert image["ports"] == dict(host.ports)
    assert image["args"] == list(host.args)
    assert image["contract"] == host.env["ONEX_CONTRACT"]
    pod = overlay_renders.render("production").one("Deployment")["spec"]["template"]["spec"]
    assert (pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsGroup"]) == (image["uid"], image["gid"])


def test_dagger_pipeline_reads_services_yaml_instead_of_repeating_it(topology: Topology) -> None:
    pipeline = (REPOSITORY / "ci" / "dagger_pipeline.py").read_text(encoding="utf-8")
    assert "deploy/services.yaml" in pipeline
    repeated = [service.image for service in topology.services.values() if service.image_repository in pipeline]
    for service in topology.services.values():
        repeated += [name for name in {**service.env, **service.address_env, **service.test_env} if name in pipeline]
        repeated += [str(port) for port in service.ports.values() if re.search(rf"\b{port}\b", pipeline)]
    assert repeated == [], f"ci/dagger_pipeline.py repeats what deploy/services.yaml declares: {repeated}"
