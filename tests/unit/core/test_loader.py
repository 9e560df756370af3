"""Every bad contract gets one ``file: field: problem`` line; nothing is silently skipped."""

from __future__ import annotations

from pathlib import Path

import pytest

from onex_host.core.errors import ContractError
from onex_host.core.file_registry import load_host

HOST = """\
name: test_host
environment: test
contracts_directory: nodes
nodes:
  - slug: echo
    contract_path: echo.yaml
handlers:
  - handler_type: local
"""

NODE = """\
name: echo
operations:
  echo: {handler_type: local, side_effects: none}
"""


def write(tmp_path: Path, host: str = HOST, node: str | None = NODE) -> Path:
    (tmp_path / "nodes").mkdir(exist_ok=True)
    if node is not None:
        (tmp_path / "nodes" / "echo.yaml").write_text(node)
    path = tmp_path / "host.yaml"
    path.write_text(host)
    return path


def problems(path: Path, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ContractError) as info:
        load_host(path, env=env or {})
    return [str(p) for p in info.value.problems]


def test_a_valid_contract_loads_its_nodes(tmp_path: Path) -> None:
    host = load_host(write(tmp_path), env={})
    assert [n.slug for n in host.nodes] == ["echo"]
    assert host.contract.name == "test_host"


def test_invalid_yaml_names_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, host="name: [unclosed\nnodes: 1\n")
    [line] = problems(path)
    assert line.startswith(f"{path}: (yaml): invalid YAML at line ")
    assert "column" in line


def test_a_document_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, host="- just\n- a list\n")
    assert problems(path) == [f"{path}: (top level): expected a mapping of fields"]


def test_unknown_handler_type_lists_the_known_ones(tmp_path: Path) -> None:
    path = write(tmp_path, host=HOST.replace("handler_type: local", "handler_type: kafka"))
    [line] = problems(path)
    assert line.startswith(f"{path}: handlers[0].handler_type: unknown value 'kafka' (expected ")
    assert "'local'" in line
    assert "'consul'" in line


def test_unknown_field_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, host=HOST + "max_concurrency: 5\n")
    assert problems(path) == [f"{path}: max_concurrency: unknown field"]


def test_missing_variable_without_default_is_named_with_its_field(tmp_path: Path) -> None:
    path = write(tmp_path, host=HOST + "description: ${NOT_SET_ANYWHERE}\n")
    assert problems(path) == [f"{path}: description: ${{NOT_SET_ANYWHERE}} is not set and has no default"]


def test_variables_interpolate_with_defaults_and_escapes(tmp_path: Path) -> None:
    text = HOST + 'description: "${WHO:-nobody} at $${HOME} on ${PLACE}"\nmax_concurrent_operations: "${MAX}"\n'
    host = load_host(write(tmp_path, host=text), env={"PLACE": "earth", "MAX": "7"})
    assert host.contract.description == "nobody at ${HOME} on earth"
    assert host.contract.max_concurrent_operations == 7


def test_an_empty_variable_falls_back_to_its_default(tmp_path: Path) -> None:
    host = load_host(write(tmp_path, host=HOST + "description: ${EMPTY:-fallback}\n"), env={"EMPTY": ""})
    assert host.contract.description == "fallback"


def test_a_node_slug_declared_twice_is_refused(tmp_path: Path) -> None:
    text = HOST + "  - slug: echo\n    contract_path: echo.yaml\n"
    text = text.replace("handlers:\n  - handler_type: local\n", "") + "handlers:\n  - handler_type: local\n"
    path = write(tmp_path, host=text)
    assert problems(path) == [f"{path}: nodes: node slug 'echo' is declared twice"]


def test_a_node_ref_whose_file_is_missing_is_an_error_not_a_skip(tmp_path: Path) -> None:
    path = write(tmp_path, node=None)
    [line] = problems(path)
    assert line.startswith(f"{path}: nodes[0].contract_path: node 'echo': contract file ")
    assert line.endswith("echo.yaml does not exist")


def test_a_bad_node_contract_is_reported_against_its_own_file(tmp_path: Path) -> None:
    path = write(tmp_path, node="name: echo\noperations:\n  echo: {handler_type: smtp}\n")
    [line] = problems(path)
    node_file = (tmp_path / "nodes" / "echo.yaml").resolve()
    assert line.startswith(f"{node_file}: operations.echo.handler_type: unknown value 'smtp'")


def test_every_problem_across_files_is_reported_at_once(tmp_path: Path) -> None:
    text = HOST + "  - slug: ghost\n    contract_path: ghost.yaml\n"
    text = text.replace("handlers:\n  - handler_type: local\n", "") + "handlers:\n  - handler_type: local\n"
    path = write(tmp_path, host=text, node="name: echo\noperations: {}\n")
    lines = problems(path)
    assert len(lines) == 2
    assert any("ghost.yaml does not exist" in line for line in lines)
    assert any("operations: " in line for line in lines)


def test_disabled_nodes_are_left_out_on_purpose(tmp_path: Path) -> None:
    path = write(
        tmp_path, host=HOST.replace("contract_path: echo.yaml", "contract_path: echo.yaml\n    enabled: false")
    )
    assert load_host(path, env={}).nodes == ()


def test_config_overrides_merge_into_the_node_config(tmp_path: Path) -> None:
    node = NODE + "config:\n  limits: {a: 1, b: 2}\n"
    host_text = HOST.replace(
        "contract_path: echo.yaml", "contract_path: echo.yaml\n    config_overrides: {limits: {b: 3}}"
    )
    host = load_host(write(tmp_path, host=host_text, node=node), env={})
    assert host.nodes[0].contract.config == {"limits": {"a": 1, "b": 3}}


def test_missing_contract_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    assert problems(path) == [f"{path}: (file): file not found"]


def test_the_local_handler_is_refused_in_production(tmp_path: Path) -> None:
    path = write(tmp_path, host=HOST.replace("environment: test", "environment: production"))
    assert problems(path) == [
        f"{path}: (top level): the local handler is dev/test only and cannot be enabled in a production contract"
    ]


def test_a_handler_configured_twice_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, host=HOST + "  - handler_type: local\n")
    assert problems(path) == [f"{path}: handlers: handler type 'local' is configured twice"]


def test_the_bundled_contracts_are_valid() -> None:
    root = Path(__file__).resolve().parents[3] / "contracts" / "runtime" / "dev_runtime_host.yaml"
    host = load_host(root, env={})
    assert host.contract.environment == "dev"
    assert [n.slug for n in host.nodes] == ["echo"]
