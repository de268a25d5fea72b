"""Discovery of transmitter metadata and JWKS against a local server playing the transmitter."""

import pytest

from streams.discovery import (
    DiscoveryError,
    discover_from_issuer_and_jwks_url,
    discover_from_well_known_url,
    issuer_for_well_known_url,
    well_known_url_for_issuer,
)
from tests import keys
from tests.servers import free_port


@pytest.mark.parametrize(
    ("issuer", "well_known"),
    [
        ("https://tr.example.com", "https://tr.example.com/.well-known/ssf-configuration"),
        ("https://tr.example.com/", "https://tr.example.com/.well-known/ssf-configuration"),
        ("https://tr.example.com/t1", "https://tr.example.com/.well-known/ssf-configuration/t1"),
    ],
)
def test_well_known_segment_is_inserted_before_the_issuer_path(issuer, well_known):
    assert well_known_url_for_issuer(issuer) == well_known
    assert issuer_for_well_known_url(well_known) == issuer.rstrip("/")


def test_legacy_well_known_names_map_to_their_issuer():
    url = "https://tr.example.com/.well-known/risc-configuration/x"
    assert issuer_for_well_known_url(url) == "https://tr.example.com/x"
    assert issuer_for_well_known_url("https://tr.example.com/config.json") is None


def test_good_metadata_and_jwks_are_discovered(transmitter):
    config = discover_from_well_known_url(transmitter.well_known_url)
    assert config.issuer == transmitter.issuer
    assert config.jwks_url == transmitter.jwks_url
    assert [k.kid for k in config.keys] == ["rsa-1"]
    assert config.metadata["spec_version"] == "1_0"


def test_issuer_with_trailing_slash_matches(transmitter):
    transmitter.publish_metadata({**transmitter.metadata, "issuer": transmitter.issuer + "/"})
    assert discover_from_well_known_url(transmitter.well_known_url).issuer.endswith("/")


def test_issuer_and_jwks_url_accepts_a_bare_host_issuer(transmitter):
    config = discover_from_issuer_and_jwks_url("example.okta.com", transmitter.jwks_url)
    assert config.issuer == "example.okta.com"
    assert config.metadata is None


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({"jwks_uri": "x"}, "has no 'issuer'"),
        ({"issuer": "https://elsewhere.example"}, "has no 'jwks_uri'"),
        ({"issuer": "https://elsewhere.example", "jwks_uri": "https://x/j"}, "Issuer mismatch"),
        (["not", "an", "object"], "JSON object of transmitter configuration metadata"),
    ],
)
def test_bad_metadata_is_refused_with_its_reason(transmitter, metadata, message):
    transmitter.publish_metadata(metadata)
    with pytest.raises(DiscoveryError, match=message) as caught:
        discover_from_well_known_url(transmitter.well_known_url)
    assert "Check the URL and add the stream again." in str(caught.value)


def test_metadata_http_status_is_named(transmitter):
    transmitter.publish_metadata({}, status=503)
    with pytest.raises(DiscoveryError, match="HTTP 503") as caught:
        discover_from_well_known_url(transmitter.well_known_url)
    assert caught.value.transient


def test_metadata_not_json_is_named(transmitter):
    transmitter.server.route("GET", "/.well-known/ssf-configuration", body="<html/>")
    with pytest.raises(DiscoveryError, match="not answer with a JSON document"):
        discover_from_well_known_url(transmitter.well_known_url)


def test_unreachable_transmitter_is_named():
    url = f"http://127.0.0.1:{free_port()}/.well-known/ssf-configuration"
    with pytest.raises(DiscoveryError, match="connection refused") as caught:
        discover_from_well_known_url(url)
    assert caught.value.transient


def test_timeout_is_named(settings, transmitter):
    settings.OUTBOUND_READ_TIMEOUT = 0.3
    transmitter.server.route(
        "GET", "/.well-known/ssf-configuration", json_body=transmitter.metadata, delay=1.2
    )
    with pytest.raises(DiscoveryError, match="did not answer within"):
        discover_from_well_known_url(transmitter.well_known_url)


def test_url_without_well_known_segment_must_share_the_issuer_origin(transmitter):
    transmitter.server.route("GET", "/ssf.json", json_body=transmitter.metadata)
    assert (
        discover_from_well_known_url(transmitter.server.url("/ssf.json")).issuer
        == transmitter.issuer
    )
    transmitter.server.route(
        "GET", "/other.json", json_body={**transmitter.metadata, "issuer": "https://other.example"}
    )
    with pytest.raises(DiscoveryError, match="Issuer mismatch"):
        discover_from_well_known_url(transmitter.server.url("/other.json"))


@pytest.mark.parametrize(
    ("jwks", "message"),
    [
        ({"keys": []}, "the 'keys' array is empty"),
        ({"no": "keys"}, "not a JSON object with a 'keys' array"),
        ({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "h"}]}, "cannot sign SETs"),
        ({"keys": [{"kty": "RSA", "kid": "e", "use": "enc", "n": "x", "e": "AQAB"}]}, "use 'enc'"),
    ],
)
def test_jwks_without_a_usable_key_is_refused(transmitter, jwks, message):
    transmitter.server.route("GET", "/jwks.json", json_body=jwks)
    with pytest.raises(DiscoveryError) as caught:
        discover_from_well_known_url(transmitter.well_known_url)
    assert message in str(caught.value)
    assert "Check the URL and add the stream again." in str(caught.value)


def test_short_rsa_keys_and_private_keys_are_not_usable(transmitter):
    short = keys.generate_rsa("short", size=1024)
    transmitter.server.route(
        "GET", "/jwks.json", json_body={"keys": [short.export_public(as_dict=True)]}
    )
    with pytest.raises(DiscoveryError, match="1024 bits"):
        discover_from_well_known_url(transmitter.well_known_url)
    private = keys.generate_ec("leaked")
    transmitter.server.route(
        "GET", "/jwks.json", json_body={"keys": [private.export_private(as_dict=True)]}
    )
    with pytest.raises(DiscoveryError, match="private key material"):
        discover_from_well_known_url(transmitter.well_known_url)
