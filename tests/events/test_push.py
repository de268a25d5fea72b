"""The RFC 8935 push endpoint: every answer it gives, with real signed SETs."""

import json
import os
import random

import pytest
from django.conf import settings

from events.models import RejectedSecurityEvent, SecurityEvent, SecurityEventStatus
from streams.models import Stream
from streams.services import stream_deactivate, stream_push_secret_rotate
from tests import keys
from tests.servers import free_port

pytestmark = pytest.mark.django_db


def assert_error(response, err: str, description_part: str = ""):
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/json"
    assert response["Content-Language"] == "en"
    body = json.loads(response.content)
    assert body["err"] == err
    assert description_part in body["description"]
    assert not SecurityEvent.objects.exists()
    rejected = RejectedSecurityEvent.objects.latest("id")
    assert (rejected.err, rejected.http_status) == (err, 400)
    return body


def test_valid_set_is_accepted_with_an_empty_202_and_stored(
    stream, make_set, push, django_capture_on_commit_callbacks
):
    token = make_set(txn="t-1")
    with django_capture_on_commit_callbacks(execute=True):
        response = push(token)
    assert response.status_code == 202
    assert response.content == b""
    assert "Content-Type" not in response
    event = SecurityEvent.objects.get()
    assert (event.stream, event.raw, event.alg, event.kid) == (stream, token, "RS256", "rsa-1")
    assert event.claims["txn"] == "t-1"
    assert event.header["typ"] == "secevent+jwt"
    assert event.event_type == keys.SESSION_REVOKED
    assert event.status != SecurityEventStatus.PENDING  # processed (the risk app's tests say how)
    stream.refresh_from_db()
    assert stream.last_set_received_at == event.received_at


def test_ec_signed_set_is_accepted(db, transmitter, ec_key, push):
    from streams.services import stream_create

    transmitter.key = ec_key
    transmitter.publish_jwks(ec_key)
    stream_create(name="EC", well_known_url=transmitter.well_known_url)
    assert push(transmitter.make_set()).status_code == 202
    assert SecurityEvent.objects.get().alg == "ES256"


def test_replayed_jti_is_accepted_once(stream, make_set, push, django_capture_on_commit_callbacks):
    token = make_set()
    with django_capture_on_commit_callbacks(execute=True):
        assert push(token).status_code == 202
        assert push(token).status_code == 202
    assert SecurityEvent.objects.count() == 1


def test_same_jti_with_other_content_is_still_a_replay(stream, make_set, push):
    assert push(make_set(jti="j-1")).status_code == 202
    assert push(make_set(jti="j-1", txn="other")).status_code == 202
    assert SecurityEvent.objects.get().claims.get("txn") is None


def test_trailing_slash_issuer_matches(stream, make_set, push):
    assert push(make_set(iss=stream.issuer + "/")).status_code == 202


def test_audience_may_be_an_array(stream, make_set, push):
    assert (
        push(make_set(aud=["https://other.example", settings.RECEIVER_AUDIENCE])).status_code == 202
    )


def test_content_type_parameters_are_ignored(stream, make_set, push):
    response = push(make_set(), content_type="application/secevent+jwt; charset=utf-8")
    assert response.status_code == 202
    assert not SecurityEvent.objects.get().content_type_mislabelled


@pytest.mark.parametrize("content_type", ["application/jwt", "text/plain", "application/json"])
def test_mislabelled_set_is_processed_and_counted(stream, make_set, push, content_type):
    assert push(make_set(), content_type=content_type).status_code == 202
    assert SecurityEvent.objects.get().content_type_mislabelled


def test_non_set_body_under_another_label_is_415(stream, push):
    response = push('{"hello": "world"}', content_type="application/json")
    assert response.status_code == 415
    assert not SecurityEvent.objects.exists()


@pytest.mark.parametrize("typ", [None, "SECEVENT+JWT", "application/secevent+jwt"])
def test_missing_or_long_form_typ_is_tolerated(stream, make_set, push, typ):
    assert push(make_set(header={"typ": typ})).status_code == 202
    assert SecurityEvent.objects.get().typ_missing is (typ is None)


# --- invalid_request ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "...",
        "not a jwt",
        '{"iss": "x"}',
        "a.b.c.d.e",  # JWE shape
        "eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.c2ln",  # payload is not JSON
        "WyJhcnJheSJd.WyJhcnJheSJd.c2ln",  # header and payload are JSON arrays
    ],
)
def test_garbage_bodies_are_invalid_request(stream, push, body):
    assert_error(push(body), "invalid_request")


def test_random_bytes_are_invalid_request(stream, push):
    body = random.Random(7).randbytes(300).decode("latin-1")
    assert_error(push(body), "invalid_request")


def test_jwe_is_refused_as_unsupported(stream, push):
    assert_error(push("eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d"), "invalid_request", "JWE")


def test_wrong_typ_is_invalid_request(stream, make_set, push):
    """An access token (RFC 9068) is not a SET, whoever signed it (RFC 8417 §4.5)."""
    assert_error(push(make_set(header={"typ": "at+jwt"})), "invalid_request", "typ")


@pytest.mark.parametrize(
    ("claims", "part"),
    [
        ({"iat": None}, "iat"),
        ({"iat": "yesterday"}, "iat"),
        ({"iat": 4102444800}, "future"),
        ({"jti": None}, "jti"),
        ({"jti": "x" * 256}, "jti"),
        ({"events": None}, "events"),
        ({"events": {}}, "events"),
        ({"events": {keys.SESSION_REVOKED: "revoked"}}, "JSON object"),
        ({"sub_id": None}, "subject"),
        ({"exp": 1000}, "expired"),
    ],
)
def test_malformed_claims_are_invalid_request(stream, make_set, push, claims, part):
    assert_error(push(make_set(**claims)), "invalid_request", part)


def test_event_level_subject_is_enough(stream, make_set, push):
    events = {keys.SESSION_REVOKED: {"subject": {"user": {"format": "email", "email": "a@x.io"}}}}
    assert push(make_set(sub_id=None, events=events)).status_code == 202


def test_sub_and_exp_are_tolerated_unless_the_stream_is_strict(stream, make_set, push):
    future = 4102444800
    assert push(make_set(sub="alice", exp=future)).status_code == 202
    stream.strict_claims = True
    stream.save()
    assert_error_kept = push(make_set(sub="alice"))
    assert assert_error_kept.status_code == 400
    assert json.loads(assert_error_kept.content)["err"] == "invalid_request"
    assert SecurityEvent.objects.count() == 1


def test_nul_characters_and_non_finite_numbers_are_refused(stream, transmitter, push):
    claims = transmitter.claims(txn="a\u0000b")
    assert_error(push(keys.sign(claims, transmitter.key)), "invalid_request")
    header = keys.b64(b'{"alg":"RS256","kid":"rsa-1"}')
    payload = keys.b64(b'{"iss":"x","iat":1e999}')
    assert_error(push(f"{header}.{payload}.c2ln"), "invalid_request")


# --- invalid_key -------------------------------------------------------------------------------


def test_alg_none_is_invalid_key(stream, transmitter, push):
    token = keys.sign_unsafely(transmitter.claims(), {"alg": "none", "typ": "secevent+jwt"}, None)
    assert_error(push(token), "invalid_key", "none")


def test_hmac_signed_with_the_public_key_is_invalid_key(stream, transmitter, rsa_key, push):
    secret = rsa_key.export_to_pem(private_key=False)
    header = {"alg": "HS256", "typ": "secevent+jwt", "kid": "rsa-1"}
    assert_error(
        push(keys.sign_unsafely(transmitter.claims(), header, secret)), "invalid_key", "HS256"
    )


def test_signature_by_another_key_is_invalid_key(stream, transmitter, rotated_rsa_key, push):
    token = transmitter.make_set(key=rotated_rsa_key, header={"kid": "rsa-1"})
    assert_error(push(token), "invalid_key", "signature")


def test_alg_outside_the_keys_pin_is_invalid_key(stream, transmitter, rsa_key, push):
    token = transmitter.make_set(header={"alg": "PS256"})
    assert_error(push(token), "invalid_key", "does not allow alg PS256")


def test_unknown_kid_refetches_once_then_is_invalid_key(stream, transmitter, push):
    jwks_requests = len(transmitter.server.requests_to("/jwks.json"))
    assert_error(push(transmitter.make_set(header={"kid": "nope"})), "invalid_key", "nope")
    assert len(transmitter.server.requests_to("/jwks.json")) == jwks_requests + 1
    # Within the refetch interval an unknown kid does not fetch again, and is not refused for
    # good either: the transmitter may have just rotated its keys, so it is told to retry.
    response = push(transmitter.make_set(header={"kid": "nope-2"}))
    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    assert len(transmitter.server.requests_to("/jwks.json")) == jwks_requests + 1


def test_rotation_refetched_by_another_process_is_seen_at_once(
    stream, transmitter, rotated_rsa_key, push
):
    from django.utils import timezone

    push(transmitter.make_set())  # this process now caches the stream with the old keys
    Stream.objects.filter(pk=stream.pk).update(
        jwks=keys.public_jwks(rotated_rsa_key),
        jwks_fetched_at=timezone.now(),
        jwks_refetch_attempted_at=timezone.now(),  # the other process holds the refetch
    )
    before = len(transmitter.server.requests_to("/jwks.json"))
    assert push(transmitter.make_set(key=rotated_rsa_key)).status_code == 202
    assert len(transmitter.server.requests_to("/jwks.json")) == before


def test_key_rotation_is_accepted_after_one_refetch(stream, transmitter, rotated_rsa_key, push):
    transmitter.publish_jwks(rotated_rsa_key)
    before = len(transmitter.server.requests_to("/jwks.json"))
    assert push(transmitter.make_set(key=rotated_rsa_key)).status_code == 202
    assert len(transmitter.server.requests_to("/jwks.json")) == before + 1
    assert push(transmitter.make_set(key=rotated_rsa_key)).status_code == 202
    assert len(transmitter.server.requests_to("/jwks.json")) == before + 1
    assert SecurityEvent.objects.filter(kid="rsa-2").count() == 2


def test_several_keys_and_no_kid_is_invalid_key(stream, transmitter, rsa_key, ec_key, push):
    stream.jwks = keys.public_jwks(rsa_key, ec_key)
    stream.save()
    assert_error(push(transmitter.make_set(header={"kid": None})), "invalid_key", "no kid")


def test_single_key_and_no_kid_uses_that_key(stream, transmitter, push):
    assert push(transmitter.make_set(header={"kid": None})).status_code == 202


def test_unreachable_jwks_is_503_with_retry_after(stream, transmitter, rotated_rsa_key, push):
    stream.jwks_url = f"http://127.0.0.1:{free_port()}/jwks.json"
    stream.save()
    response = push(transmitter.make_set(key=rotated_rsa_key))
    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    assert not SecurityEvent.objects.exists()
    assert RejectedSecurityEvent.objects.get().http_status == 503
    stream.refresh_from_db()
    assert stream.jwks["keys"][0]["kid"] == "rsa-1"  # the cached JWKS is kept


# --- invalid_issuer, invalid_audience, access_denied, authentication_failed -------------------


def test_unknown_issuer_is_invalid_issuer(stream, make_set, push):
    assert_error(push(make_set(iss="https://stranger.example")), "invalid_issuer", "stranger")
    assert RejectedSecurityEvent.objects.get().stream is None


def test_wrong_audience_is_invalid_audience(stream, make_set, push):
    assert_error(push(make_set(aud="https://someone-else.example")), "invalid_audience")
    assert_error(push(make_set(aud=None)), "invalid_audience")


def test_inactive_stream_is_access_denied(stream, make_set, push):
    stream_deactivate(stream=stream)
    assert_error(push(make_set()), "access_denied", "deactivated")
    assert RejectedSecurityEvent.objects.get().stream == stream


def test_push_secret_is_required_when_set(stream, make_set, push):
    secret = stream_push_secret_rotate(stream=stream)
    assert_error(push(make_set()), "authentication_failed")
    assert_error(push(make_set(), HTTP_AUTHORIZATION="Bearer wrong"), "authentication_failed")
    assert push(make_set(), HTTP_AUTHORIZATION=secret).status_code == 202


def test_previous_push_secret_works_for_a_grace_period_after_rotation(stream, make_set, push):
    import time_machine
    from django.utils import timezone

    old = stream_push_secret_rotate(stream=stream)
    new = stream_push_secret_rotate(stream=Stream.objects.get())
    assert push(make_set(), HTTP_AUTHORIZATION=new).status_code == 202
    assert push(make_set(), HTTP_AUTHORIZATION=old).status_code == 202
    with time_machine.travel(timezone.now() + timezone.timedelta(minutes=11)):
        assert push(make_set(), HTTP_AUTHORIZATION=new).status_code == 202
        refused = push(make_set(), HTTP_AUTHORIZATION=old)
        assert (refused.status_code, refused.json()["err"]) == (400, "authentication_failed")


# --- sizes and robustness ----------------------------------------------------------------------


def test_oversized_body_is_413(stream, make_set, push, settings):
    settings.SET_MAX_BYTES = 2048
    token = make_set(padding="x" * 4000)
    response = push(token)
    assert response.status_code == 413
    assert not SecurityEvent.objects.exists()


def test_get_is_405(client, db):
    assert client.get("/security/api/v1/security-events").status_code == 405


def test_no_input_gives_a_500(stream, transmitter, push):
    """Bodies built from fragments of real SETs, JSON and noise: never a 500, never stored."""
    rng = random.Random(int(os.environ.get("FUZZ_SEED", "1")))
    good = transmitter.make_set()
    header, payload, signature = good.split(".")
    fragments = [header, payload, signature, keys.b64(b"{}"), keys.b64(b"[]"), keys.b64(b"null"),
                 keys.b64(b'{"alg":"RS256","typ":"secevent+jwt","kid":"rsa-1"}'),
                 keys.b64(json.dumps({"iss": transmitter.issuer, "events": []}).encode()),
                 keys.b64(json.dumps({"iss": [transmitter.issuer]}).encode()),
                 keys.b64(json.dumps({"iss": transmitter.issuer, "aud": {"x": 1}}).encode()),
                 keys.b64(b'{"alg":"RS256","kid":["a"]}'), keys.b64(b'{"alg":null}'),
                 keys.b64(b'{"alg":"RS256","crit":["exp"],"kid":"rsa-1"}'),
                 "", "%%%", "\u00e9", "==", "."]  # fmt: skip
    for _ in range(300):
        body = ".".join(rng.choice(fragments) for _ in range(rng.choice([1, 2, 3, 3, 3, 5])))
        response = push(body, content_type=rng.choice(["application/secevent+jwt", "text/plain"]))
        assert response.status_code in (400, 415), (body, response.status_code)
    assert not SecurityEvent.objects.exists()


def test_rejected_sets_are_pruned_by_age_and_per_stream_cap(stream, make_set, push, settings):
    from datetime import timedelta

    from django.utils import timezone

    from events.services import rejected_security_events_prune

    settings.REJECTED_SET_CAP_PER_STREAM = 3
    for _ in range(5):
        push(make_set(aud="https://nobody.example"))  # stream known: kept against its cap
    push(make_set(iss="https://stranger.example"))  # unknown issuer: kept with no stream
    RejectedSecurityEvent.objects.filter(stream=None).update(
        received_at=timezone.now() - timedelta(days=settings.REJECTED_SET_RETENTION_DAYS + 1)
    )
    newest = list(RejectedSecurityEvent.objects.filter(stream=stream).order_by("-id")[:3])
    assert rejected_security_events_prune() == 3
    assert list(RejectedSecurityEvent.objects.order_by("-id")) == newest
    assert rejected_security_events_prune() == 0


def test_lone_surrogates_are_invalid_request_not_500(stream, transmitter, push):
    header = keys.b64(b'{"alg":"RS256","kid":"rsa-1","typ":"secevent+jwt"}')
    for payload in (b'{"iss":"\\ud800"}', b'{"iss":"x","jti":"\\udfff"}'):
        assert_error(push(f"{header}.{keys.b64(payload)}.c2ln"), "invalid_request", "Unicode")
    claims = transmitter.claims(txn="\ud800")
    assert_error(push(keys.sign(claims, transmitter.key)), "invalid_request", "Unicode")


def test_replayed_verification_set_is_accepted_after_its_state_was_used(
    stream, transmitter, push, django_capture_on_commit_callbacks
):
    from streams.models import StreamManagement

    StreamManagement.objects.create(
        stream=stream, remote_stream_id="r1", delivery_method="urn:ietf:rfc:8935",
        delivery_endpoint="x", auth_method="STATIC_TOKEN", verification_state="s-1",
    )  # fmt: skip
    verification = "https://schemas.openid.net/secevent/ssf/event-type/verification"
    token = transmitter.make_set(events={verification: {"state": "s-1"}})
    with django_capture_on_commit_callbacks(execute=True):
        assert push(token).status_code == 202
    assert StreamManagement.objects.get().verified_at is not None  # the state is used up
    assert push(token).status_code == 202  # RFC 8935 §2.3: answered as the first time
    again = push(transmitter.make_set(events={verification: {"state": "s-1"}}))  # a new jti
    assert (again.status_code, json.loads(again.content)["err"]) == (400, "invalid_state")


def test_a_flood_of_bad_sets_stores_at_most_the_per_minute_cap(
    stream, transmitter, rotated_rsa_key, push, settings
):
    settings.REJECTED_SET_MAX_PER_MINUTE = 5
    forged = transmitter.make_set(key=rotated_rsa_key, header={"kid": "rsa-1"})
    for _ in range(12):
        assert push(forged).status_code == 400
    assert RejectedSecurityEvent.objects.filter(stream=stream).count() == 5


@pytest.mark.django_db(transaction=True)
def test_a_database_that_cannot_store_gets_503_with_retry_after(stream, make_set, push, caplog):
    """A database that cannot store is answered 503 so the transmitter retries; nothing is
    half-stored, and the retry is stored."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION refuse_sets() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN RAISE EXCEPTION 'disk full'; END $$;"
            " CREATE TRIGGER refuse_sets BEFORE INSERT ON events_securityevent"
            " FOR EACH ROW EXECUTE FUNCTION refuse_sets();"
        )
    token = make_set()
    response = push(token)
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response["Content-Language"] == "en"
    assert "cannot store" in json.loads(response.content)["description"]
    assert "Database unavailable while receiving a SET" in caplog.text
    assert not SecurityEvent.objects.exists()
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER refuse_sets ON events_securityevent")
    assert push(token).status_code == 202  # the retry is stored
    assert SecurityEvent.objects.count() == 1


def test_json_nested_deeper_than_the_recursion_limit_is_a_400(stream, push):
    """Nesting is counted before parsing, so no depth (900 levels json.loads still parses,
    3000 it cannot) overflows Python's stack, a 500."""
    header = keys.b64(json.dumps({"alg": "RS256", "kid": "rsa-1"}).encode())
    for depth in (900, 3000):
        payload = '{"iss":"x","a":' + "[" * depth + "]" * depth + "}"
        response = push(f"{header}.{keys.b64(payload.encode())}.c2ln")
        assert response.status_code == 400
        assert json.loads(response.content)["err"] == "invalid_request"


def test_a_non_ascii_verification_state_is_invalid_state_not_an_error(stream, transmitter, push):
    from streams.models import StreamManagement

    StreamManagement.objects.create(
        stream=stream, remote_stream_id="r1", delivery_method="urn:ietf:rfc:8935",
        delivery_endpoint="x", auth_method="STATIC_TOKEN", verification_state="s-1",
    )  # fmt: skip
    verification = "https://schemas.openid.net/secevent/ssf/event-type/verification"
    token = transmitter.make_set(events={verification: {"state": "état-1"}})
    assert_error(push(token), "invalid_state")


def test_a_chunked_push_is_asked_for_its_length(stream, make_set, client):
    from django.urls import reverse

    response = client.generic(
        "POST", reverse("events:security_event_push"), make_set(),
        content_type="application/secevent+jwt", CONTENT_LENGTH="",
        HTTP_TRANSFER_ENCODING="chunked",
    )  # fmt: skip
    assert response.status_code == 411
    assert response["Content-Language"] == "en"
    assert not SecurityEvent.objects.exists()


def test_redis_down_still_refuses_with_400_and_keeps_the_refusal(stream, make_set, push, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": f"redis://127.0.0.1:{free_port()}/0"}}  # fmt: skip
    assert_error(push(make_set(aud="https://nobody.example")), "invalid_audience")


def test_a_set_replayed_after_its_stream_was_removed_and_added_again_is_not_stored_again(
    stream, transmitter, make_set, push, django_capture_on_commit_callbacks
):
    """A jti is unique per issuer (RFC 8417 §2.2): removing the stream keeps its SETs, and a
    replay of one to the stream added again is answered 202 (RFC 8935 §2.3), not processed."""
    from streams.services import stream_create, stream_delete

    token = make_set()
    with django_capture_on_commit_callbacks(execute=True):
        assert push(token).status_code == 202
    stream_delete(stream=stream)
    again = stream_create(name="Acme MDM again", well_known_url=transmitter.well_known_url)
    assert push(token).status_code == 202
    assert SecurityEvent.objects.count() == 1
    assert not SecurityEvent.objects.filter(stream=again).exists()
    assert push(make_set()).status_code == 202  # a new jti is stored
    assert SecurityEvent.objects.filter(stream=again).count() == 1


def test_replay_after_re_adding_the_issuer_spelled_with_trailing_slashes_is_not_stored_again(
    stream, transmitter, make_set, push, django_capture_on_commit_callbacks
):
    """Dedupe compares issuers as matching does (trailing slashes aside): the same issuer
    re-added as `https://tr//` cannot have an old SET processed a second time."""
    from risk.models import LogEvent
    from risk.services.system_log import RECEIVE_EVENT
    from streams.services import stream_create, stream_delete

    token = make_set()
    with django_capture_on_commit_callbacks(execute=True):
        assert push(token).status_code == 202
    stream_delete(stream=stream)
    again = stream_create(name="Acme MDM again", issuer=transmitter.issuer + "//",
                          jwks_url=transmitter.jwks_url)  # fmt: skip
    assert again.issuer != stream.issuer
    with django_capture_on_commit_callbacks(execute=True):
        assert push(token).status_code == 202
    assert SecurityEvent.objects.count() == 1
    assert LogEvent.objects.filter(event_type=RECEIVE_EVENT).count() == 1
