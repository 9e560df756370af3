"""Cutover from the legacy deployment: hand a consumer group's place in a topic to another group.

``handover`` plans (``plan_handover``) and applies (``apply_handover``) the
copy of committed offsets, refusing whenever it could lose or replay work.
"""

from onex_host.infra.migration.handover import (
    HandoverPlan,
    HandoverRefusedError,
    PartitionHandover,
    apply_handover,
    plan_handover,
)

__all__ = ["HandoverPlan", "HandoverRefusedError", "PartitionHandover", "apply_handover", "plan_handover"]
