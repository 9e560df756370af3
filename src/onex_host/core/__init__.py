"""Transport-agnostic heart of the Runtime Host.

Nothing in this package imports a transport (Kafka, HTTP, databases, Vault)
or ``onex_host.infra``; import-linter checks that on every ``make test``.
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
from onex_host.core.local_handler import LocalHandler
from onex_host.core.node_instance import NodeInstance
from onex_host.core.node_runtime import NodeRuntime
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
    "LocalHandler",
    "ModelBusHealth",
    "ModelEventBusConfig",
    "ModelHandlerConfig",
    "ModelHandlerHealth",
    "ModelNodeContract",
    "ModelNodeRef",
    "ModelOnexEnvelope",
    "ModelOperationSpec",
    "ModelRuntimeHostContract",
    "NodeInstance",
    "NodeRuntime",
    "OperationContext",
    "OperationError",
    "load_host",
]
