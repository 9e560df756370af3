"""The in-memory orchestrator: nodes and their routing, above the seam.

``NodeRuntime`` routes an envelope to a node and its handler through
``onex_host.spi.ProtocolHandler``; it owns no event loop, consumer or socket.
It sits above ``spi`` (it calls handlers) and below ``infra`` (which owns the
transports and calls ``route_envelope``).
"""

from onex_host.runtime.node_instance import NodeInstance
from onex_host.runtime.node_runtime import NodeRuntime

__all__ = ["NodeInstance", "NodeRuntime"]
