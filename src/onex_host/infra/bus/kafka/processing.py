"""One consumed record's way through the host: codec -> runtime callback -> outcome -> sender.

The dispatcher runs ``CommandProcessor.process`` for each record in its key's
lane. It goes one way only: decode the bytes (``codec``), check where the
reply may go, run the envelope (the runtime callback; a raise becomes an
error reply in ``onex_host.core.replies``), ask ``outcome.decide`` what
follows, looping only for a retry, and carry the final decision out through
the ``sender``. A delivery the sender reports as finally failed goes back to
``outcome.decide`` too, so it ends as a dead letter, never as "done" with
neither a reply nor a dead letter.

It returns ``True`` only once the record has its reply published or its dead
letter stored (its offset may then be committed), and ``False`` when the
partition was revoked first (the next owner runs it again). It does not
raise: a bug anywhere in here dead-letters the record as ``internal_error``.
"""

from __future__ import annotations

import logging
from typing import Protocol

from onex_host.core.envelope import ModelOnexEnvelope, utc_now
from onex_host.core.replies import reply_for_exception
from onex_host.infra import tracing
from onex_host.infra.bus.kafka.codec import (
    DeadLetterReason,
    DeadLetterRecord,
    DecodeFailure,
    InboundRecord,
    dead_letter,
    decode_command,
)
from onex_host.infra.bus.kafka.config import KafkaBusConfig
from onex_host.infra.bus.kafka.dispatcher import Ownership
from onex_host.infra.bus.kafka.outcome import (
    DeadLetter,
    DeadLetterUndelivered,
    OutcomeRules,
    PublishReply,
    Replied,
    ReplyToRefused,
    ReplyUndelivered,
    RetryAfter,
    Undecodable,
    decide,
)
from onex_host.infra.bus.kafka.sender import SendFailure, SendResult
from onex_host.infra.metrics import HostMetrics
from onex_host.spi.event_bus import EnvelopeCallback

logger = logging.getLogger(__name__)


class OutputSink(Protocol):
    """Where a record's reply and dead letter go: ``KafkaSender`` (at-least-once: produced and acknowledged
    before the record finishes) or ``TransactionalOutbox`` (exactly-once: handed over to the partition's next
    transaction, which commits them with the record's offset)."""

    async def send_reply(
        self, publish: PublishReply, ownership: Ownership, record: InboundRecord | None = None
    ) -> SendResult: ...

    async def send_dead_letter(
        self, letter: DeadLetterRecord, ownership: Ownership, record: InboundRecord | None = None
    ) -> SendResult: ...


class CommandProcessor:
    def __init__(self, config: KafkaBusConfig, sink: OutputSink, metrics: HostMetrics) -> None:
        self._max_bytes = config.max_message_bytes
        self._rules = OutcomeRules.from_config(config)
        self._sink = sink
        self._metrics = metrics
        self._mode = metrics.mode
        self.on_envelope: EnvelopeCallback | None = None

    async def process(self, record: InboundRecord, ownership: Ownership) -> bool:
        """``True`` once replied to or dead-lettered, ``False`` when abandoned because ownership was lost."""
        try:
            action = await self._final_action(record, ownership)
            if action is None:
                return False
            if isinstance(action, PublishReply):
                sent = await self._sink.send_reply(action, ownership, record)
                if sent.delivered:
                    return True
                if sent.failure is SendFailure.OWNERSHIP_LOST:
                    return False
                logger.warning(
                    "kafka reply refused; the command is dead-lettered",
                    extra={"topic": action.topic, "failure": sent.detail, "offset": record.offset},
                )
                undelivered = ReplyUndelivered(action, sent.final_failure, sent.detail)
                action = decide(undelivered, 1, self._rules, now=utc_now())
        except Exception as exc:  # a bug above: the record still needs an end, and the evidence
            logger.exception("processing a kafka record failed", extra={"offset": record.offset})
            action = DeadLetter(DeadLetterReason.INTERNAL_ERROR, f"processing failed ({type(exc).__name__})", 0)
        return await self._dead_letter(record, action, ownership)

    def outputs_for_undelivered_reply(
        self, record: InboundRecord, publish: PublishReply, sent: SendResult
    ) -> tuple[DeadLetterRecord, PublishReply | None]:
        """A reply refused for good inside a transaction: the dead letter (and error reply) that replace it.

        The same decision as the at-least-once path above takes (``outcome.decide``), for the transactional
        outbox, which learns of the refusal only when its transaction produces the reply.
        """
        logger.warning(
            "kafka reply refused; the command is dead-lettered",
            extra={"topic": publish.topic, "failure": sent.detail, "offset": record.offset},
        )
        action = decide(ReplyUndelivered(publish, sent.final_failure, sent.detail), 1, self._rules, now=utc_now())
        letter = self._letter(record, action)
        self._metrics.dead_letters.labels(reason=action.reason.value, mode=self._mode).inc()
        return letter, action.reply

    def _letter(self, record: InboundRecord, action: DeadLetter) -> DeadLetterRecord:
        letter = dead_letter(
            record, action.reason, action.detail, attempts=action.attempts, error_code=action.error_code
        )
        if tracing.active():
            letter.headers.extend(tracing.reply_trace_record_headers())
        return letter

    async def _dead_letter(self, record: InboundRecord, action: DeadLetter, ownership: Ownership) -> bool:
        """Store the dead letter (waiting, uncommitted, until it is stored), then send its reply if any."""
        letter = self._letter(record, action)
        failures = 0
        while True:
            sent = await self._sink.send_dead_letter(letter, ownership, record)
            if sent.delivered:
                break
            if sent.failure is SendFailure.OWNERSHIP_LOST:
                return False
            failures += 1
            retry = decide(DeadLetterUndelivered(sent.final_failure, sent.detail), failures, self._rules, now=utc_now())
            logger.error(
                "kafka dead letter not stored (%s); the record stays uncommitted and is tried again",
                sent.detail,
                extra={"partition": record.partition, "offset": record.offset, "attempt": failures},
            )
            if not await ownership.sleep(retry.delay_seconds):
                return False
        self._metrics.dead_letters.labels(reason=action.reason.value, mode=self._mode).inc()
        if action.reply is not None:
            sent = await self._sink.send_reply(action.reply, ownership, record)
            if sent.failure is SendFailure.OWNERSHIP_LOST:
                return False
            if not sent.delivered:
                # The dead letter holds the record and its reason; the caller's answer could not be sent.
                logger.warning(
                    "kafka reply for a dead-lettered command not delivered",
                    extra={"topic": action.reply.topic, "failure": sent.detail, "offset": record.offset},
                )
        return True

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
        route = self._rules.route(request)
        refused = route.refused
        if refused is not None:
            logger.warning(
                "command with a refused reply_to dead-lettered unrun",
                extra={"problem": refused, "correlation_id": str(request.correlation_id), "offset": record.offset},
            )
            return decide(ReplyToRefused(request, refused), 0, self._rules, now=utc_now())
        while True:
            attempt += 1
            action = decide(
                Replied(request, await self._run(request, record, attempt), route), attempt, self._rules, now=utc_now()
            )
            if not isinstance(action, RetryAfter):
                return action
            node, operation = self._metrics.labels_for(request.target_node, request.operation)
            self._metrics.retries.labels(node=node, operation=operation, mode=self._mode).inc()
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
