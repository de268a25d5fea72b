"""RFC 8936 poll delivery: fetch a stream's SETs, verify and keep each, then acknowledge it.

Each SET is verified by the same function as a push (events.verification.verify_set) and
committed before its `jti` is put in an `ack` (or its error in `setErrs`), so nothing is ever
acknowledged that we have not stored. A SET we cannot check now (the JWKS is unreachable) is
neither acknowledged nor refused: the transmitter delivers it again. Redelivered SETs are
stored once (same jti) and acknowledged again.
"""

import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DatabaseError

from events.services import rejected_security_event_record, security_event_receive
from events.verification import SetError, SetErrorCode
from streams.models import Stream
from streams.stream_management import stream_poll_request

logger = logging.getLogger(__name__)

MAX_ROUNDS = 20


@dataclass
class PollOutcome:
    """What one poll run did."""

    requests: int = 0
    received: int = 0
    acknowledged: int = 0
    refused: int = 0


def _keep(stream: Stream, jti: str, token: Any, ack: list, set_errs: dict) -> None:
    """Store one polled SET and say how to answer it: ack, setErrs, or (transient) nothing."""
    try:
        if not isinstance(token, str):
            raise SetError(SetErrorCode.INVALID_REQUEST, "The SET is not a string.", stream=stream)
        security_event_receive(raw=token, check_authorization=False, stream_id=stream.pk)
        ack.append(jti)
    except SetError as error:
        rejected_security_event_record(
            error=error, body=token if isinstance(token, str) else "", remote_addr=None, polled=True
        )
        if error.status == 400:
            set_errs[jti] = {"err": str(error.err), "description": error.answer}
    except DatabaseError:
        # Not stored, so not acknowledged: the transmitter delivers it again.
        logger.exception("A polled SET of stream %s could not be stored", stream.pk)
    except Exception:
        # A bug of ours (a push would get a 500): this SET is not acknowledged, so it is
        # delivered again, and it does not stop the acknowledgements of the others.
        logger.exception("A polled SET of stream %s failed unexpectedly", stream.pk)


def stream_poll(*, stream: Stream) -> PollOutcome:
    """Poll until the transmitter has no more (bounded), then send the last acknowledgements.

    Raises ManagementError when the transmitter does not answer; what was stored stays stored
    and, unacknowledged, is delivered again.
    """
    outcome = PollOutcome()
    ack: list[str] = []
    set_errs: dict[str, dict[str, str]] = {}
    more = True
    while more and outcome.requests < MAX_ROUNDS:
        body: dict[str, Any] = {"maxEvents": settings.POLL_MAX_EVENTS, "returnImmediately": True}
        if ack:
            body["ack"] = ack
        if set_errs:
            body["setErrs"] = set_errs
        answer = stream_poll_request(stream=stream, body=body)
        outcome.requests += 1
        outcome.acknowledged += len(ack)
        outcome.refused += len(set_errs)
        ack, set_errs = [], {}
        for jti, token in answer.get("sets", {}).items():
            outcome.received += 1
            _keep(stream, jti, token, ack, set_errs)
        more = bool(answer.get("moreAvailable"))
    if ack or set_errs:
        # Acknowledge-only (RFC 8936 §2.4): maxEvents 0 and no waiting.
        body = {"ack": ack, "setErrs": set_errs, "maxEvents": 0, "returnImmediately": True}
        stream_poll_request(stream=stream, body=body)
        outcome.requests += 1
        outcome.acknowledged += len(ack)
        outcome.refused += len(set_errs)
    return outcome
