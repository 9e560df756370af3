"""``NodeInstance``: one hosted node, reduced to the operations its contract declares."""

from __future__ import annotations

from pathlib import Path

from onex_host.core.contracts import ModelNodeContract, ModelOperationSpec
from onex_host.core.enums import EnumErrorCode
from onex_host.core.envelope import ModelOnexEnvelope
from onex_host.core.errors import OperationError


class NodeInstance:
    """A node is pure contract: it holds no I/O and no loop.

    Its only job at run time is to say whether an envelope asks for something
    the contract allows, which is what keeps the command topic within the
    contracts: an undeclared operation never reaches a handler.
    """

    __slots__ = ("contract", "path", "slug")

    def __init__(self, slug: str, contract: ModelNodeContract, path: Path | None = None) -> None:
        self.slug = slug
        self.contract = contract
        self.path = path

    def resolve(self, envelope: ModelOnexEnvelope) -> ModelOperationSpec:
        """The declared operation an envelope asks for; raises ``OperationError`` if it is not allowed."""
        spec = self.contract.operations.get(envelope.operation)
        if spec is None:
            declared = ", ".join(sorted(self.contract.operations))
            raise OperationError(
                EnumErrorCode.UNKNOWN_OPERATION,
                f"node {self.slug!r} does not declare operation {envelope.operation!r} (declared: {declared})",
            )
        if spec.handler_type is not envelope.handler_type:
            raise OperationError(
                EnumErrorCode.HANDLER_MISMATCH,
                f"node {self.slug!r} declares {envelope.operation!r} for handler "
                f"{spec.handler_type.value!r}, not {envelope.handler_type.value!r}",
            )
        return spec

    def declares(self, envelope: ModelOnexEnvelope) -> bool:
        spec = self.contract.operations.get(envelope.operation)
        return spec is not None and spec.handler_type is envelope.handler_type

    def __repr__(self) -> str:
        return f"NodeInstance({self.slug!r})"
