"""Deeply nested JSON (about 930 levels, 52 KB: what json.loads still parses, but little else
in a request can walk): refused at the push endpoint, and harmless when already stored.

A row written by other means (before the limit existed, or straight into the database) must
not stall the drain behind it, nor make a page answer 500 for every admin.
"""

import json

import pytest
from django.db import connection
from django.urls import reverse

from events.models import SecurityEvent, SecurityEventStatus
from risk.models import LogEvent
from risk.services.directory import entity_create
from risk.services.processing import security_events_process_pending
from tests import keys
from tests.events.test_push import assert_error

pytestmark = pytest.mark.django_db

DEPTH = 930


def nested(depth: int) -> str:
    """`depth` levels of objects holding some text: 40 KB at 930 levels, 52 KB once base64."""
    return ('{"k": "' + "x" * 28 + '", "v": ') * depth + "0" + "}" * depth


def test_signed_set_nested_deeper_than_the_limit_is_invalid_request(
    stream, transmitter, push, settings
):
    """SET_MAX_JSON_DEPTH counts every level of the payload: claims, events, the event, ..."""
    limit = settings.SET_MAX_JSON_DEPTH

    def event_nesting(levels: int) -> dict:
        return {keys.SESSION_REVOKED: json.loads(nested(levels))}

    token = transmitter.make_set(events=event_nesting(limit - 1))
    assert_error(push(token), "invalid_request", f"nests more than {limit} levels")
    assert push(transmitter.make_set(events=event_nesting(limit - 2))).status_code == 202
    huge = transmitter.make_set(jti="deep", events={keys.SESSION_REVOKED: {"a": 1}})
    header, _, signature = huge.split(".")
    payload = json.dumps(transmitter.claims(jti="deep"))[:-1] + ', "x": ' + nested(DEPTH) + "}"
    body = f"{header}.{keys.b64(payload.encode())}.{signature}"
    assert 50_000 < len(body) < settings.SET_MAX_BYTES
    response = push(body)
    assert response.status_code == 400
    assert json.loads(response.content)["err"] == "invalid_request"


def insert_pending_set(stream, claims_json: str) -> int:
    """A SET row written straight into the table, bypassing verification."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO events_securityevent (stream_id, stream_ref, issuer, issuer_key, jti,"
            " event_type, raw, header, claims, kid, alg, typ_missing, content_type_mislabelled,"
            " body_json_quoted, received_at, status) VALUES (%s, %s, %s, %s, 'deep-1', %s, 'a.b.c',"
            " %s::jsonb, %s::jsonb, '', 'RS256', false, false, false, now(), 'PENDING')"
            " RETURNING id",
            [stream.pk, stream.pk, stream.issuer, stream.issuer_key, keys.SESSION_REVOKED,
             nested(DEPTH), claims_json],
        )  # fmt: skip
        return cursor.fetchone()[0]


def deep_stack(frames: int, call):
    """Call `call` `frames` calls deep: a drain runs inside a request or a worker, not at the
    top of a test (under `make run` it runs eagerly inside the push request)."""
    return call() if frames == 0 else deep_stack(frames - 1, call)


def test_stored_deep_set_does_not_stall_the_drain_nor_break_a_page(
    stream, transmitter, push, admin_client
):
    alice = entity_create(email="alice@example.com")
    claims = json.dumps(transmitter.claims(jti="deep-1"))[:-1]
    deep_claims = claims.replace('"events": {', '"events": {"x": ' + nested(DEPTH) + ", ", 1) + "}"
    deep_id = insert_pending_set(stream, deep_claims)
    event = {"https://schemas.okta.com/secevent/okta/event-type/user-risk-change":
             {"current_level": "high"}}  # fmt: skip
    assert push(transmitter.make_set(events=event)).status_code == 202  # after the deep row
    deep_stack(100, security_events_process_pending)
    assert not SecurityEvent.objects.filter(status=SecurityEventStatus.PENDING).exists()
    assert SecurityEvent.objects.get(pk=deep_id).status == SecurityEventStatus.FAILED
    alice.refresh_from_db()
    assert alice.risk_level == "HIGH"  # the SET behind the deep row was processed

    pages = [
        reverse("events:stream_events", args=[stream.pk]),
        reverse("events:security_event_detail", args=[deep_id]),
        reverse("risk:system_log"),
        reverse("streams:stream_detail", args=[stream.pk]),
    ]
    for url in pages:
        response = admin_client.get(url)
        assert response.status_code == 200, url
    detail = admin_client.get(pages[1]).content.decode()
    assert "nests more than 128 levels deep" in detail


def test_stored_deep_system_log_record_is_shown_safely(stream, admin_client):
    record = LogEvent.objects.create(event_type="security.events.provider.receive_event",
                                     display_message="deep", stream_ref=stream.pk)  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE risk_logevent SET debug_data = %s::jsonb WHERE id = %s",
            [nested(DEPTH), record.pk],
        )
    response = admin_client.get(reverse("risk:system_log"))
    assert response.status_code == 200
    assert "nests more than 128 levels deep" in response.content.decode()
