"""The gateway's behaviour, free of pika and Ray: what to do with each gatekeeper message.

For every northbound request: validate it, admit it through the SLM with the correlation id
as the operation id (so a redelivered message is the same operation), and only then ack
it; publish the intermediate status at once and the final status when the operation ends.
Which final replies are still owed is persisted in a record of the gateway's own
(:class:`~mano.records.GatewayReplyRecord`, collection ``gateway_replies``), written after
admission and before the ack, deleted once the broker confirmed the final reply: a gateway
that restarts still sends them, and nothing is lost when the broker or the gateway goes away
between admission and the end of the workflow. (A gateway that dies between admission and that
write never acked the message: its redelivery is admitted again as the same operation, and the
record written then.) The gateway never writes an operation record: that is the lifecycle's.
"""
from __future__ import annotations

import dataclasses
import enum
import logging
from typing import Any, Callable, Mapping, Protocol

from mano.errors import DuplicateRecordError, ManoError
from mano.gateway import northbound as nb
from mano.lifecycle.states import OperationType
from mano.records import GatewayReplyRecord, OperationRecord

log = logging.getLogger(__name__)

LEGACY_KEY = "_gateway"  # where replies owed were kept before, inside the operation's request


class Settle(str, enum.Enum):
    ACK = "ack"            # handled (admitted, or answered with an ERROR)
    REJECT = "reject"      # poison: dropped without requeue
    REQUEUE = "requeue"    # mano could not take it now (SLM or store away): try again later


class Slm(Protocol):
    def instantiate(self, nsd: Any, vnfds: Any, *, operation_id: str, user_data: Any, params: Any) -> dict: ...

    def request(self, service_id: str, op_type: str, params: Any, *, operation_id: str) -> dict: ...


@dataclasses.dataclass(frozen=True)
class Inbound:
    """A northbound message as the core needs it (built from the bus Message)."""

    topic: str
    body: Any
    correlation_id: str | None
    malformed: str | None = None


Publish = Callable[[str, Mapping[str, Any], str | None], None]  # (topic, body, correlation id); blocks until confirmed


class GatewayCore:
    def __init__(self, slm: Slm, store: Any, publish: Publish):
        self.slm = slm
        self.store = store
        self.publish = publish

    # --- inbound -----------------------------------------------------------------------
    def handle(self, msg: Inbound) -> Settle:
        if msg.malformed is not None:
            if msg.correlation_id:
                self._reply(msg, nb.error(f"malformed message: {msg.malformed}"))
            return Settle.REJECT
        if not msg.correlation_id:
            self._reply(msg, nb.error(nb.NO_CORRELATION_ID))
            return Settle.ACK
        try:
            request = nb.parse(msg.topic, msg.body, self._vnfds_of)
        except nb.GatewayRequestError as exc:
            self._reply(msg, nb.error(str(exc), exc.extra))
            return Settle.ACK
        try:
            op = self._admit(msg, request)
        except ManoError as exc:
            if exc.retryable:
                log.warning("cannot admit %s %s now (%s): requeued", msg.topic, msg.correlation_id, exc)
                return Settle.REQUEUE
            self._reply(msg, nb.error(str(exc), request.extra_reply))
            return Settle.ACK
        operation = OperationRecord.model_validate(op)
        reply = self._owe(operation.id, msg.topic, request.extra_reply)
        self._announce(operation, reply)
        return Settle.ACK

    def _vnfds_of(self, service_id: str) -> dict[str, dict]:
        record = self.store.services.find_one(service_id)
        if record is None:
            return {}
        by_key = {(v.get("vendor"), v.get("name"), str(v.get("version"))): v for v in record.vnfds}
        return {nf["vnf_id"]: by_key.get((nf.get("vnf_vendor"), nf.get("vnf_name"), str(nf.get("vnf_version"))), {})
                for nf in record.nsd.get("network_functions", [])}

    def _admit(self, msg: Inbound, request: nb.NorthboundRequest) -> dict:
        params = dict(request.params)
        if request.op_type == OperationType.INSTANTIATE:
            return self.slm.instantiate(request.nsd, list(request.vnfds), operation_id=msg.correlation_id,
                                        user_data=request.user_data, params=params)
        return self.slm.request(request.service_id, request.op_type.value, params, operation_id=msg.correlation_id)

    def _owe(self, operation_id: str, topic: str, extra: Mapping[str, Any]) -> GatewayReplyRecord | None:
        """Record the final reply owed for an admitted operation (a redelivery finds the one its
        first delivery recorded; None only if that one was sent and crossed off meanwhile)."""
        record = GatewayReplyRecord(id=operation_id, topic=topic, extra=dict(extra))
        try:
            return self.store.gateway_replies.insert(record)
        except DuplicateRecordError:  # a redelivery: the first delivery recorded it
            return self.store.gateway_replies.find_one(operation_id)

    def _reply(self, msg: Inbound, body: Mapping[str, Any]) -> None:
        self.publish(msg.topic, body, msg.correlation_id)

    # --- outbound ----------------------------------------------------------------------
    def _announce(self, op: OperationRecord, reply: GatewayReplyRecord | None) -> None:
        """The current status of an admitted operation: intermediate, or final if it ended."""
        if reply is None:
            return
        if op.state.is_settled:  # a FAILED_TEMP one too: SONATA's gatekeeper knows only READY or ERROR
            self._send_final(op, reply)
        else:
            self.publish(reply.topic, nb.intermediate(op.type, op.service_id, reply.extra), op.id)

    def pending(self) -> list[tuple[GatewayReplyRecord, OperationRecord | None]]:
        """The final replies still owed, each with its operation (None if it has none: a request
        the SLM admitted under another id, which cannot happen, or a deleted record)."""
        replies = self.store.gateway_replies.owed()
        ops = {op.id: op for op in self.store.operations.find({"id": {"$in": [r.id for r in replies]}})} \
            if replies else {}
        return [(reply, ops.get(reply.id)) for reply in replies]

    def send_due_finals(self) -> int:
        """Send the final reply of every owed operation that has ended; return how many."""
        sent = 0
        for reply, op in self.pending():
            if op is None:
                log.warning("final reply for %s dropped: it has no operation record", reply.id)
                self.store.gateway_replies.delete(reply.id, missing_ok=True)
            elif op.state.is_settled:
                self._send_final(op, reply)
                sent += 1
        return sent

    def adopt_legacy_replies(self) -> int:
        """Move the replies an older gateway kept inside operation records into reply records."""
        adopted = 0
        for op in self.store.operations.find({f"request.{LEGACY_KEY}.final_sent": False}):
            marker = op.request.get(LEGACY_KEY) or {}
            if self._owe(op.id, str(marker.get("topic")), marker.get("extra") or {}) is not None:
                adopted += 1
            self.store.operations.mutate(op.id, lambda o: o.model_copy(update={"request": {
                **o.request, LEGACY_KEY: {**(o.request.get(LEGACY_KEY) or {}), "final_sent": True}}}))
        return adopted

    def _send_final(self, op: OperationRecord, reply: GatewayReplyRecord) -> None:
        service = self.store.services.find_one(op.service_id)
        nsr = self.store.nsr.find_one(op.service_id)
        instances = service.vnf_instances if service else ()
        ids = [v.id for v in instances if op.type == OperationType.TERMINATE or v.live]
        vnfrs = [r.to_sonata() for r in self.store.vnfr.find({"id": {"$in": ids}})] if ids else []
        duration = (op.finished_at - op.created_at).total_seconds() if op.finished_at else None
        body = nb.final(op.type, op.state, op.error, nsr=nsr.to_sonata() if nsr else None, vnfrs=vnfrs,
                        user_data=service.user_data if service else None,
                        duration=duration if op.type == OperationType.TERMINATE else None,
                        extra=reply.extra)
        self.publish(reply.topic, body, op.id)
        # Only once the broker confirmed the reply is it crossed off (at-least-once delivery).
        self.store.gateway_replies.delete(reply.id, missing_ok=True)
