"""The Runtime Host's vocabulary: models, contracts and their loading, nothing that runs.

Envelope, contract models, enums, errors, operation context and health
results, the YAML loader and the file registry. Nothing in this package
imports a transport (Kafka, HTTP, databases, Vault) or any other layer of
``onex_host``; import-linter checks that on every ``make test``.
"""

from onex_host.core.contracts import (
    ModelEventBusConfig,
    ModelHandlerConfig,
    ModelNodeContract,
    ModelNodeRef,
    ModelOperationSpec,
    ModelRuntimeHostContract,
)
from onex_host.core.enums import EnumErrorCode, EnumHandlerType, EnumNodeKind, EnumSideEffects
from onex_host.core.envelope import ModelOnexEnvelope
from onex_host.core.errors import ContractError, ContractProblem, OperationError
from onex_host.core.file_registry import FileRegistry, LoadedHost, LoadedNode, load_host
from onex_host.core.operation import ModelBusHealth, ModelHandlerHealth, OperationContext

__all__ = [
    "ContractError",
    "ContractProblem",
    "EnumErrorCode",
    "EnumHandlerType",
    "EnumNodeKind",
    "EnumSideEffects",
    "FileRegistry",
    "LoadedHost",
    "LoadedNode",
    "ModelBusHealth",
    "ModelEventBusConfig",
    "ModelHandlerConfig",
    "ModelHandlerHealth",
    "ModelNodeContract",
    "ModelNodeRef",
    "ModelOnexEnvelope",
    "ModelOperationSpec",
    "ModelRuntimeHostContract",
    "OperationContext",
    "OperationError",
    "load_host",
]
