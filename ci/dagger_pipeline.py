"""The ONEX runtime host's pipeline as a Dagger module: build, test, e2e, lint, publish.

Every backing service comes from deploy/services.yaml (images, ports,
environment, the variables clients need), bound into the containers under its
alias, so the pipeline, the compose stack and the test suite cannot disagree.
The tests run the same pytest suite as ``make test``: they find the services
through the ``ONEX_TEST_*`` endpoint variables instead of starting their own.

    dagger call test                 # unit + integration against real services
    dagger call build export --path=onex-host.tar
    dagger call e2e                  # the built image, driven from outside
    dagger call publish --registry=ghcr.io/onex --username=me --token=env:GHCR_TOKEN --commit=$(git rev-parse HEAD)
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from typing import Annotated, Any, Final, TypeVar

import dagger
from dagger import DefaultPath, Doc, Ignore, dag, function, object_type
from service_topology import Service, Topology, parse_topology

# Tool images, pinned. The runtime image itself is not here: flake.nix builds it.
NIX_IMAGE: Final = "nixos/nix:2.24.9"
PYTHON_IMAGE: Final = "ghcr.io/astral-sh/uv:0.13.9-python3.11-bookworm-slim"

WORKDIR: Final = "/src"
PER_COMMIT: Final = re.compile(r"[0-9a-f]{7,40}")
IMAGE_ARCHIVE: Final = "/out/onex-host-image.tar"
E2E_TESTS: Final = "tests/e2e"

# Tests that restart the Kafka broker mid-stream. A Dagger service cannot be
# restarted from the container that uses it, so `test` runs these a second time
# against a broker of their own: without Kafka's test endpoint variable the test
# session starts a native broker it may restart (installed by scripts/services/install.sh).
BROKER_RESTART_TESTS: Final = ["tests/integration/test_kafka_broker_restart_loses_no_command.py"]

# `make lint`, command for command (tests/appliance compares them).
LINT_COMMANDS: Final = [
    [".venv/bin/ruff", "check", "src", "tests", "ci", "bench"],
    [".venv/bin/ruff", "format", "--check", "src", "tests", "ci", "bench"],
    [".venv/bin/mypy", "src"],
    [".venv/bin/mypy", "ci"],
    [".venv/bin/lint-imports"],
]

SOURCE_IGNORE: Final[list[str]] = [
    ".venv",
    "**/__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".import_linter_cache",
    ".coverage*",
    "result",
    "ci/sdk",
    "ci/.venv",
]


def _with_environment(container: dagger.Container, environment: dict[str, str]) -> dagger.Container:
    """services.yaml's environment as plain variables: its values are committed development
    defaults (the database password "onex"), not credentials. As Dagger secrets the engine would scrub
    every occurrence of such a string (``onex``) from every log line. Real credentials (the
    registry token, the per-run API token) are the only secrets."""
    for name, value in sorted(environment.items()):
        container = container.with_env_variable(name, value)
    return container


def _backing_service(service: Service) -> dagger.Service:
    """One backing service from its services.yaml entry; Kafka advertises its alias."""
    container = _with_environment(dag.container().from_(service.image), service.own_environment())
    for port in service.ports.values():
        container = container.with_exposed_port(port)
    return container.as_service(args=list(service.command), use_entrypoint=True)


def _bind_services(container: dagger.Container, services: dict[str, dagger.Service]) -> dagger.Container:
    for alias, service in services.items():
        container = container.with_service_binding(alias, service)
    return container


# Every function takes the repository the same way, so `dagger call test` needs no flags.
Source = Annotated[
    dagger.Directory,
    Doc("The repository (defaults to the one holding dagger.json)"),
    DefaultPath("/"),
    Ignore(SOURCE_IGNORE),
]


async def _topology(source: dagger.Directory) -> Topology:
    return parse_topology(await source.file("deploy/services.yaml").contents())


def _python(source: dagger.Directory) -> dagger.Container:
    """The repository with the locked environment of ``make venv`` (uv sync --frozen)."""
    return (
        dag.container()
        .from_(PYTHON_IMAGE)
        .with_mounted_cache("/root/.cache/uv", dag.cache_volume("onex-host-uv"))
        .with_env_variable("UV_LINK_MODE", "copy")
        .with_env_variable("UV_PYTHON_DOWNLOADS", "never")
        .with_env_variable("PYTHONUNBUFFERED", "1")
        .with_directory(WORKDIR, source)
        .with_workdir(WORKDIR)
        .with_exec(["uv", "sync", "--frozen", "--all-groups"])
    )


def _image(source: dagger.Directory) -> dagger.Container:
    """`nix build .#image` (flake.nix) in a Nix container, loaded as a Dagger container."""
    archive = (
        dag.container()
        .from_(NIX_IMAGE)
        # The engine's container is the isolation; Nix's own sandbox needs privileges it lacks.
        .with_env_variable("NIX_CONFIG", "experimental-features = nix-command flakes\nsandbox = false")
        .with_mounted_cache("/root/.cache/nix", dag.cache_volume("onex-host-nix-eval"))
        .with_directory(WORKDIR, source)
        .with_workdir(WORKDIR)
        .with_exec(["mkdir", "-p", "/out"])
        .with_exec(["sh", "-c", f'cp "$(nix build .#image --no-link --print-out-paths)" {IMAGE_ARCHIVE}'])
        .file(IMAGE_ARCHIVE)
    )
    return dag.container().import_(archive)


def _services(topology: Topology) -> dict[str, dagger.Service]:
    return {service.alias: _backing_service(service) for service in topology.backing_services}


# dagger-io accepts `cache` (FunctionDefinition.cache -> withCachePolicy) but its typing
# overloads of `function` omit it.
_function: Any = function
_Function = TypeVar("_Function", bound=Callable[..., Any])


def never_cached(func: _Function) -> _Function:
    """``@function(cache="never")``: run on every call. Without a policy Dagger caches a
    function's result for up to 7 days, so a rerun of `test` or `e2e` would test nothing and
    a second `publish` would push nothing."""
    decorated: _Function = _function(cache="never")(func)
    return decorated


@object_type
class OnexHost:
    """Build, test and ship the ONEX runtime host."""

    @function
    def build(self, source: Source) -> dagger.Container:
        """The runtime image, built from flake.nix (packages.image) inside a Nix container."""
        return _image(source)

    @never_cached
    async def test(
        self,
        source: Source,
        pytest_args: Annotated[list[str] | None, Doc("Extra pytest arguments, e.g. ['-k', 'kafka']")] = None,
    ) -> str:
        """Unit and integration tests (`make test`'s pytest run) against Kafka, PostgreSQL, OpenBao and Consul.

        The broker-restart tests skip in that run (its Kafka is a Dagger service); they run again
        against a native broker the test session starts and may restart, and both outputs are returned.
        """
        topology = await _topology(source)
        environment = topology.test_environment()
        runner = _bind_services(_python(source), _services(topology)).with_exec(["bash", "scripts/tools/install.sh"])
        suite = _with_environment(runner, environment).with_exec(
            [".venv/bin/pytest", "--require-services", "--cov", "--cov-report=term", *(pytest_args or [])]
        )
        kafka_endpoint = set(topology.services["kafka"].test_env)
        own_broker = {name: value for name, value in environment.items() if name not in kafka_endpoint}
        restart = (
            _with_environment(runner, own_broker)
            .with_exec(["bash", "scripts/services/install.sh"])
            .with_exec([".venv/bin/pytest", "--require-services", "-p", "no:cacheprovider", *BROKER_RESTART_TESTS])
        )
        header = "\n== broker-restart tests, against a broker this run can restart ==\n"
        return await suite.stdout() + header + await restart.stdout()

    @never_cached
    async def e2e(self, source: Source) -> str:
        """The built image run as a service against the backing services, driven by tests/e2e from outside."""
        topology = await _topology(source)
        services = _services(topology)
        host = topology.runtime_host
        image = _with_environment(_image(source), topology.runtime_host_environment())
        # Credentials services.yaml leaves to the runner: fresh for every run, shared with the tests.
        credentials = {
            name: dag.set_secret(f"e2e-{name.lower()}", secrets.token_urlsafe(32)) for name in host.secret_env
        }
        for name, secret in credentials.items():
            image = image.with_secret_variable(name, secret)
        for port in host.ports.values():
            image = image.with_exposed_port(port)
        host_service = _bind_services(image, services).as_service(args=list(host.args), use_entrypoint=True)
        runner = _bind_services(_python(source), {**services, host.alias: host_service})
        for name, secret in credentials.items():
            runner = runner.with_secret_variable(f"ONEX_E2E_{name.removeprefix('ONEX_')}", secret)
        return await (
            runner.with_env_variable("ONEX_E2E_HOST_URL", f"http://{host.alias}:{host.ports['health']}")
            .with_env_variable("ONEX_E2E_METRICS_URL", f"http://{host.alias}:{host.ports['metrics']}")
            .with_exec([".venv/bin/pytest", "--require-services", "-p", "no:cacheprovider", E2E_TESTS])
            .stdout()
        )

    @function
    async def lint(self, source: Source) -> str:
        """ruff, mypy --strict (the package and this module), import-linter: the `make lint` gates."""
        container = _python(source)
        for command in LINT_COMMANDS:
            container = container.with_exec(command)
        return await container.stdout()

    @never_cached
    async def publish(
        self,
        source: Source,
        registry: Annotated[str, Doc("Registry and namespace to push to, e.g. ghcr.io/onex")],
        username: Annotated[str, Doc("Registry user")],
        token: Annotated[dagger.Secret, Doc("Registry token or password")],
        commit: Annotated[str, Doc("The git commit the source is, e.g. $(git rev-parse HEAD)")],
    ) -> str:
        """Push the image built from the flake as <registry>/onex-host:sha-<commit>; returns the reference
        with its digest, which the promotion pins in deploy/k8s/overlays/production.

        Only per-commit tags are pushed: a tag names one build forever, so the shadow (which
        runs a tag) and production (which pins a digest) can never silently run other code.
        """
        if PER_COMMIT.fullmatch(commit) is None:
            raise ValueError(f"commit must be a git commit id (7 to 40 hex digits), not {commit!r}")
        host = (await _topology(source)).runtime_host
        repository = host.image_repository.rsplit("/", 1)[-1]
        address = f"{registry.rstrip('/')}/{repository}:sha-{commit[:12]}"
        registry_host = registry.split("/", 1)[0]
        return await _image(source).with_registry_auth(registry_host, username, token).publish(address)
