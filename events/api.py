"""The RFC 8935 push endpoint: POST /security/api/v1/security-events (Okta's path)."""

import json
import logging

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpResponse, JsonResponse
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from common import metrics
from common.proxy import client_address
from events.services import rejected_security_event_record, security_event_receive
from events.verification import SetError, looks_like_compact_jws

logger = logging.getLogger(__name__)

SET_MEDIA_TYPE = "application/secevent+jwt"
DB_RETRY_AFTER_SECONDS = 5


class SecEventJwtParser(BaseParser):
    """`application/secevent+jwt`: the body is one compact JWS (RFC 8417 §2.3)."""

    media_type = SET_MEDIA_TYPE

    def parse(self, stream, media_type=None, parser_context=None):
        return stream.read().decode("utf-8")


class AnyAcceptNegotiation(BaseContentNegotiation):
    """Never answer 406: a transmitter's Accept header must not turn a good SET into an error."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def _error(status: int, description: str, err: str | None = None, retry_after: int | None = None):
    # RFC 8935 §2.3: a JSON error body, and Content-Language is a MUST. We speak English only.
    body = {"err": err, "description": description} if err else {"description": description}
    response = JsonResponse(body, status=status)
    response["Content-Language"] = "en"
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def _unquoted(body: str) -> str | None:
    """The SET inside a body that is one JSON string holding a compact JWS, or None.

    Netskope's Okta plugin and the Okta SDK's publish method post `json=token` (protocol.md
    §12), so the body is `"eyJ…"` with the quotes; Okta accepts it, and so do we.
    """
    if len(body) < 2 or body[0] != '"' or body[-1] != '"':
        return None
    try:
        value = json.loads(body)  # a string literal: nothing here can nest
    except ValueError:
        return None
    if isinstance(value, str) and looks_like_compact_jws(value.strip()):
        return value.strip()
    return None


def _accepted() -> HttpResponse:
    # RFC 8935 §2.2: 202 and an empty body, so no Content-Type either.
    response = HttpResponse(status=202)
    del response["Content-Type"]
    return response


class SecurityEventPushApi(APIView):
    """Receive one pushed SET: verify it, commit it, answer 202; or answer the RFC 8935 error.

    Content types: `application/secevent+jwt` (parameters ignored). A body that is a compact JWS
    is processed whatever its label, because real senders mislabel it (the SET records the
    mislabel), and so is one JSON string holding a compact JWS (recorded too); any other body
    under another label gets 415.
    """

    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes = [SecEventJwtParser]
    throttle_classes: list = []
    content_negotiation_class = AnyAcceptNegotiation

    def post(self, request, stream_id: str | None = None):
        remote_addr = client_address(request)  # the sender's, not the reverse proxy's
        length = request.META.get("CONTENT_LENGTH") or ""
        if not length and "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
            # RFC 9112 §6.3 lets a server ask for the length; Django would read no body at all.
            return _error(411, "Send the SET with a Content-Length header, not chunked.")
        length = length or "0"
        if not length.isdigit() or int(length) > settings.SET_MAX_BYTES:
            return _error(413, f"A SET may be at most {settings.SET_MAX_BYTES} bytes.")
        try:
            body = request.body.decode("utf-8").strip()
        except UnicodeDecodeError:
            body = None
        labelled = request.content_type.split(";")[0].strip().lower() == SET_MEDIA_TYPE
        token = _unquoted(body) if body is not None else None
        is_jws = token is not None or (body is not None and looks_like_compact_jws(body))
        if not labelled and not is_jws:
            return _error(415, f"Send one SET in compact JWS form as {SET_MEDIA_TYPE}.")
        try:
            security_event_receive(
                raw=token or body or "",
                authorization=request.META.get("HTTP_AUTHORIZATION"),
                stream_id=stream_id,
                content_type_mislabelled=not labelled,
                body_json_quoted=token is not None,
            )
        except SetError as error:
            return self._refuse(error, body or "", remote_addr)
        except DatabaseError:
            logger.exception("Database unavailable while receiving a SET")
            metrics.set_refused(stream_id=None, err="database_unavailable")
            return _error(
                503, "The receiver cannot store SETs right now.", retry_after=DB_RETRY_AFTER_SECONDS
            )
        return _accepted()

    def _refuse(self, error: SetError, body: str, remote_addr: str | None):
        rejected_security_event_record(error=error, body=body, remote_addr=remote_addr)
        if error.status == 400:
            return _error(400, error.answer, err=error.err)
        return _error(error.status, error.answer, retry_after=error.retry_after)
