"""Stream services: what is saved, what is refused (and that a refusal saves nothing), the audit."""

import pytest
from django.core.exceptions import ValidationError

from streams import services
from streams.discovery import DiscoveryError
from streams.models import ConfigMethod, Stream, StreamAction, StreamChange, StreamStatus


def test_create_by_well_known_url_saves_an_active_stream_with_its_keys(
    db, transmitter, super_admin
):
    stream = services.stream_create(
        name="Acme MDM", well_known_url=transmitter.well_known_url, actor=super_admin
    )
    stream.refresh_from_db()
    assert stream.status == StreamStatus.ACTIVE
    assert stream.config_method == ConfigMethod.WELL_KNOWN_URL
    assert stream.issuer == transmitter.issuer
    assert stream.jwks_url == transmitter.jwks_url
    assert stream.jwks["keys"][0]["kid"] == "rsa-1"
    assert stream.pk.startswith("sse")
    assert len(stream.pk) == 20
    change = StreamChange.objects.get(stream=stream)
    assert change.action == StreamAction.CREATE
    assert change.actor_name == "sam"
    assert change.after["issuer"] == transmitter.issuer


def test_create_by_issuer_and_jwks_url(db, transmitter):
    stream = services.stream_create(
        name="Netskope", issuer="https://netskope.example/", jwks_url=transmitter.jwks_url
    )
    assert stream.config_method == ConfigMethod.ISSUER_AND_JWKS_URL
    assert stream.issuer_key == "https://netskope.example"
    assert stream.metadata is None


def test_failed_discovery_saves_nothing(db, transmitter):
    transmitter.publish_metadata({"issuer": "https://other.example", "jwks_uri": "x"})
    with pytest.raises(DiscoveryError, match="Issuer mismatch"):
        services.stream_create(name="Bad", well_known_url=transmitter.well_known_url)
    assert not Stream.objects.exists()
    assert not StreamChange.objects.exists()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "ok", "issuer": "https://a.example"}, "jwks_url"),
        ({"name": "ok", "jwks_url": "https://a.example/jwks"}, "issuer"),
    ],
)
def test_bad_input_is_a_validation_error_and_saves_nothing(db, kwargs, field):
    with pytest.raises(ValidationError) as caught:
        services.stream_create(**kwargs)
    assert field in caught.value.message_dict
    assert not Stream.objects.exists()


def test_neither_method_given_is_refused(db):
    with pytest.raises(ValidationError, match="either a Well-known URL"):
        services.stream_create(name="ok")


def test_names_and_issuers_are_unique(db, transmitter, stream):
    with pytest.raises(ValidationError, match="exists already"):
        services.stream_create(
            name="Acme MDM", issuer="https://x.example", jwks_url=transmitter.jwks_url
        )
    with pytest.raises(ValidationError, match="already receives SETs"):
        services.stream_create(
            name="Twin", issuer=transmitter.issuer + "/", jwks_url=transmitter.jwks_url
        )
    assert Stream.objects.count() == 1


def test_update_revalidates_and_records_before_and_after(db, transmitter, stream, rotated_rsa_key):
    transmitter.publish_jwks(rotated_rsa_key)
    services.stream_update(
        stream=stream, name="Acme MDM (prod)", well_known_url=transmitter.well_known_url
    )
    stream.refresh_from_db()
    assert stream.name == "Acme MDM (prod)"
    assert stream.jwks["keys"][0]["kid"] == "rsa-2"
    change = StreamChange.objects.get(action=StreamAction.UPDATE)
    assert (change.before["name"], change.after["name"]) == ("Acme MDM", "Acme MDM (prod)")


def test_failed_update_changes_nothing(db, transmitter, stream):
    transmitter.server.route("GET", "/jwks.json", json_body={"keys": []})
    with pytest.raises(DiscoveryError):
        services.stream_update(
            stream=stream, name="Renamed", well_known_url=transmitter.well_known_url
        )
    stream.refresh_from_db()
    assert stream.name == "Acme MDM"
    assert stream.jwks["keys"]


def test_deactivate_and_activate_are_recorded_once(db, stream):
    services.stream_deactivate(stream=stream)
    services.stream_deactivate(stream=stream)
    assert Stream.objects.get().status == StreamStatus.INACTIVE
    services.stream_activate(stream=stream)
    assert Stream.objects.get().status == StreamStatus.ACTIVE
    actions = list(StreamChange.objects.order_by("id").values_list("action", flat=True))
    assert actions == [StreamAction.CREATE, StreamAction.DEACTIVATE, StreamAction.ACTIVATE]


def test_delete_keeps_the_audit_trail(db, stream):
    stream_id = stream.pk
    services.stream_delete(stream=stream)
    assert not Stream.objects.exists()
    trail = StreamChange.objects.filter(stream_ref=stream_id).order_by("id")
    assert [c.action for c in trail] == [StreamAction.CREATE, StreamAction.DELETE]
    assert trail.last().before["name"] == "Acme MDM"


def test_push_secret_is_stored_hashed(db, stream):
    secret = services.stream_push_secret_rotate(stream=stream)
    stream.refresh_from_db()
    assert secret.startswith("Bearer ")
    assert secret not in stream.push_authorization_hash
    assert stream.push_authorization_hash == services.push_secret_hash(secret)
    services.stream_push_secret_clear(stream=stream)
    stream.refresh_from_db()
    assert stream.push_authorization_hash == ""


def test_hourly_jwks_refresh_replaces_keys_and_keeps_them_when_unreachable(
    db, transmitter, stream, rotated_rsa_key
):
    transmitter.publish_jwks(rotated_rsa_key)
    assert services.streams_jwks_refresh() == {"refreshed": 1, "failed": 0}
    assert Stream.objects.get().jwks["keys"][0]["kid"] == "rsa-2"
    transmitter.server.route("GET", "/jwks.json", status=500)
    assert services.streams_jwks_refresh() == {"refreshed": 0, "failed": 1}
    assert Stream.objects.get().jwks["keys"][0]["kid"] == "rsa-2"
