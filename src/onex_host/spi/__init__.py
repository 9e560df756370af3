"""The two seams between the runtime and the outside world.

``ProtocolHandler`` and ``ProtocolEventBus`` are different abstractions and
must stay so:

* A **handler** performs one operation for one envelope and returns the reply
  ("do this for me": an HTTP call, a SQL statement, a Vault read). The
  runtime calls it; it never sees a topic, an offset or a consumer group.
* An **event bus** delivers envelopes into the host and carries replies out
  ("deliver messages to me"). The process owns it and hands every envelope to
  ``NodeRuntime.route_envelope``; it knows nothing of what operations do.

Kafka is an event bus, never a handler.
"""

from onex_host.spi.event_bus import EnvelopeCallback, ProtocolEventBus
from onex_host.spi.handler import ProtocolHandler

__all__ = ["EnvelopeCallback", "ProtocolEventBus", "ProtocolHandler"]
