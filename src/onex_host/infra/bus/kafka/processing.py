"""One consumed record's way through the host: codec -> runtime callback -> outcome -> sender.

The dispatcher runs ``CommandProcessor.process`` for each record in its key's
lane. It goes one way only: decode the bytes (``codec``), run the envelope
(the runtime callback; a raise becomes an error reply in
``onex_host.core.replies``), ask ``outcome.decide`` what follows, looping
only for a retry, and carry the final decision out through the ``sender``.
It returns whether the record is finished (its offset may then be committed)
or abandoned because the partition was revoked (the next owner runs it again).
"""

from __future__ import annotations

import logging

from onex_host.core.envelope import ModelOnexEnvelope, utc_now
from onex_host.core.replies import reply_for_exception
from onex_host.infra import tracing
from onex_host.infra.bus.kafka.codec import DecodeFailure, InboundRecord, dead_letter, decode_command
from onex_host.infra.bus.kafka.config import KafkaBusConfig
from onex_host.infra.bus.kafka.dispatcher import Ownership
from onex_host.infra.bus.kafka.outcome import (
    DeadLetter,
    OutcomeRules,
    PublishReply,
    Replied,
    RetryAfter,
    Undecodable,
    decide,
)
from onex_host.infra.bus.kafka.sender import KafkaSender, SendFailure, SendResult
from onex_host.infra.metrics import HostMetrics
from onex_host.spi.event_bus import EnvelopeCallback

logger = logging.getLogger(__name__)


class CommandProcessor:
    def __init__(self, config: KafkaBusConfig, sender: KafkaSender, metrics: HostMetrics) -> None:
        self._max_bytes = config.max_message_bytes
        self._rules = OutcomeRules.from_config(config)
        self._sender = sender
        self._metrics = metrics
        self._mode = metrics.mode
        self.on_envelope: EnvelopeCallback | None = None

    async def process(self, record: InboundRecord, ownership: Ownership) -> bool:
        """``True`` when the record is finished, ``False`` when abandoned because ownership was lost."""
        action = await self._final_action(record, ownership)
        if action is None:
            return False
        if isinstance(action, DeadLetter):
            letter = dead_letter(
                record, action.reason, action.detail, attempts=action.attempts, error_code=action.error_code
            )
            if tracing.active():
                letter.headers.extend(tracing.reply_trace_record_headers())
            sent = await self._sender.send_dead_letter(letter, ownership)
            if not sent.delivered:
                return self._undelivered(sent, record, "dead letter")
            self._metrics.dead_letters.labels(reason=action.reason.value, mode=self._mode).inc()
            if action.reply is None:
                return True
            action = action.reply
        sent = await self._sender.send_reply(action, ownership)
        return sent.delivered or self._undelivered(sent, record, "reply")

    async def _final_action(self, record: InboundRecord, ownership: Ownership) -> PublishReply | DeadLetter | None:
        """Decode and run the record until the decision is no longer a retry; ``None`` if ownership was lost."""
        decoded = decode_command(record.value, max_bytes=self._max_bytes)
        if isinstance(decoded, DecodeFailure):
            logger.warning(
                "undecodable command dead-lettered",
                extra={"reason": decoded.reason.value, "partition": record.partition, "offset": record.offset},
            )
            return decide(Undecodable(decoded), 0, self._rules, now=utc_now())
        request, attempt = decoded, 0
        while True:
            attempt += 1
            action = decide(
                Replied(request, await self._run(request, record, attempt)), attempt, self._rules, now=utc_now()
            )
            if not isinstance(action, RetryAfter):
                return action
            self._metrics.retries.labels(
                node=request.target_node or "", operation=request.operation, mode=self._mode
            ).inc()
            if not await ownership.sleep(action.delay_seconds):
                return None  # the partition moved to another host, which will run it

    async def _run(self, request: ModelOnexEnvelope, record: InboundRecord, attempt: int) -> ModelOnexEnvelope:
        assert self.on_envelope is not None
        try:
            if not tracing.active():
                return await self.on_envelope(request)
            tracing.set_attempt(attempt)
            with tracing.attached(tracing.extract_from_headers(list(record.headers))):
                return await self.on_envelope(request)
        except Exception as exc:  # the runtime answers with error replies; a raise is a bug upstream
            return reply_for_exception(request, exc, where="the host's envelope callback")

    @staticmethod
    def _undelivered(result: SendResult, record: InboundRecord, what: str) -> bool:
        """Whether a record whose dead letter or reply was not delivered still counts as finished.

        Lost ownership: not finished, the next owner runs it. Any other failure:
        logged and finished, as before the sender reported results, so one
        record cannot stall its partition; it then has neither a reply nor a
        dead letter (the at-least-once gap that issue 11 closes here).
        """
        if result.failure is SendFailure.OWNERSHIP_LOST:
            return False
        logger.error(
            "kafka %s not delivered (%s); the record is finished without it",
            what,
            result.failure,
            exc_info=result.error,
            extra={"partition": record.partition, "offset": record.offset},
        )
        return True
