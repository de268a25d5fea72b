"""/api/v1/security-events-providers: Okta's shapes and codes, the console's validation."""

import pytest
from django.test import Client

from common.crypto import encrypt
from streams.models import (
    DeliveryMethod,
    ManagementAuth,
    Stream,
    StreamChange,
    StreamManagement,
    StreamStatus,
)
from tests.api.okta import assert_okta_error

pytestmark = pytest.mark.django_db
PROVIDERS = "/api/v1/security-events-providers"


def okta_ssf_body(transmitter, name="Security Events Provider with an SSF-compliant transmitter"):
    """Okta's own example request body, with our transmitter's URL."""
    return {"name": name, "type": "okta",
            "settings": {"well_known_url": transmitter.well_known_url}}  # fmt: skip


def test_okta_request_body_creates_a_working_stream(api, transmitter, push):
    response = api.post(PROVIDERS, okta_ssf_body(transmitter), format="json")
    assert response.status_code == 200  # Okta answers a create with 200, not 201
    body = response.json()
    assert body["id"].startswith("sse")
    assert body["status"] == "ACTIVE"
    assert body["type"] == "okta"
    assert body["settings"] == {
        "well_known_url": transmitter.well_known_url,
        "issuer": transmitter.issuer,
        "jwks_url": transmitter.jwks_url,
    }
    assert body["_links"]["self"]["href"] == f"http://testserver{PROVIDERS}/{body['id']}"
    assert body["_links"]["self"]["hints"]["allow"] == ["GET", "PUT", "DELETE"]
    assert body["_links"]["deactivate"]["href"].endswith("/lifecycle/deactivate")
    assert "activate" not in body["_links"]
    assert push(transmitter.make_set()).status_code == 202


def test_create_by_issuer_and_jwks_url_accepts_a_bare_host_issuer(api, transmitter):
    body = {"name": "Netskope", "type": "Netskope",
            "settings": {"issuer": "example.okta.com", "jwks_url": transmitter.jwks_url,
                         "well_known_url": None}}  # fmt: skip
    response = api.post(PROVIDERS, body, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["settings"] == {
        "well_known_url": None, "issuer": "example.okta.com", "jwks_url": transmitter.jwks_url
    }  # fmt: skip
    assert Stream.objects.get().provider_type == "Netskope"


def test_create_is_audited_with_the_tokens_admin_as_actor(api, transmitter, super_admin):
    api.post(PROVIDERS, okta_ssf_body(transmitter), format="json")
    change = StreamChange.objects.get()
    assert (change.action, change.actor) == ("CREATE", super_admin)


@pytest.mark.parametrize(
    ("body", "summary", "cause"),
    [
        ({}, "Api validation failed: name, type, settings", "name: This field is required."),
        ({"name": "x" * 101, "type": "okta", "settings": {"well_known_url": "https://a.example"}},
         "Api validation failed: name", "name: Ensure this field has no more than 100 characters."),
        ({"name": "Acme", "type": "okta", "settings": {}},
         "Api validation failed",
         "Give either a Well-known URL, or an Issuer URL and a JWKS URL."),
        ({"name": "Acme", "type": "okta", "settings": {"issuer": "https://tr.example"}},
         "Api validation failed: settings.jwks_url",
         "settings.jwks_url: Enter the transmitter's JWKS URL."),
        ({"name": "Acme", "type": "okta", "settings": "https://tr.example"},
         "Api validation failed: settings",
         "settings: Invalid data. Expected a dictionary, but got str."),
    ],
)  # fmt: skip
def test_create_refusals_are_okta_errors_that_name_the_field(api, body, summary, cause):
    response = api.post(PROVIDERS, body, format="json")
    causes = assert_okta_error(response, 400, "E0000001")
    assert response.json()["errorSummary"] == summary
    assert cause in causes
    assert not Stream.objects.exists()


def test_create_with_a_taken_name_answers_oktas_text_that_netskope_looks_for(
    api, stream, transmitter
):
    response = api.post(PROVIDERS, okta_ssf_body(transmitter, name=stream.name), format="json")
    assert assert_okta_error(response, 400, "E0000001") == [
        "name: Security Events Provider name must be unique"
    ]
    # Netskope's plugin, unchanged: adopt the existing provider when this text is a cause.
    causes = response.json().get("errorCauses", [])
    assert any(
        "Security Events Provider name must be unique" in cause.get("errorSummary", "")
        for cause in causes
    )


def test_create_with_a_taken_issuer_answers_oktas_text(api, stream, transmitter):
    response = api.post(PROVIDERS, okta_ssf_body(transmitter, name="Another"), format="json")
    assert assert_okta_error(response, 400, "E0000001") == [
        "settings.issuer: The provided issuer already exists for this organization."
    ]
    assert response.json()["errorSummary"] == "Api validation failed: settings.issuer"


def test_create_says_what_failed_at_the_transmitter_and_saves_nothing(api, transmitter):
    transmitter.publish_metadata({}, status=404)
    response = api.post(PROVIDERS, okta_ssf_body(transmitter), format="json")
    (cause,) = assert_okta_error(response, 400, "E0000001")
    assert cause.startswith("settings: The transmitter configuration metadata could not be")
    assert "HTTP 404" in cause
    assert not Stream.objects.exists()


def test_malformed_json_is_e0000003(api):
    response = api.post(PROVIDERS, "{not json", content_type="application/json")
    assert_okta_error(response, 400, "E0000003")


@pytest.mark.parametrize(
    "body",
    ["[" * 5000 + "]" * 5000, '{"name": "x\\u0000y"}', '{"name\\u0000": "x"}'],
    ids=["nested-too-deep", "nul-in-a-value", "nul-in-a-key"],
)
def test_json_no_database_or_parser_can_take_is_e0000003(api, body):
    response = api.post(PROVIDERS, body, content_type="application/json")
    assert_okta_error(response, 400, "E0000003")
    assert not Stream.objects.exists()


def test_list_and_retrieve(api, stream):
    (listed,) = api.get(PROVIDERS).json()
    assert listed["id"] == stream.pk
    assert api.get(f"{PROVIDERS}/{stream.pk}").json() == listed


@pytest.mark.parametrize("unknown", ["sseUnknown0000000000", "a%00b", "x.y"])
def test_unknown_ids_are_404_for_every_operation(api, unknown):
    url = f"{PROVIDERS}/{unknown}"
    assert_okta_error(api.get(url), 404, "E0000007")
    assert_okta_error(api.put(url, {}, format="json"), 404, "E0000007")
    assert_okta_error(api.delete(url), 404, "E0000007")
    assert_okta_error(api.post(f"{url}/lifecycle/activate"), 404, "E0000007")
    assert_okta_error(api.post(f"{url}/lifecycle/deactivate"), 404, "E0000007")


def test_not_found_summary_names_the_resource(api):
    response = api.get(f"{PROVIDERS}/sseUnknown0000000000")
    assert response.json()["errorSummary"] == (
        "Not found: Resource not found: sseUnknown0000000000 (SecurityEventsProvider)"
    )


def test_replace_revalidates_and_switches_configuration_method(api, stream, transmitter):
    settings = {"issuer": transmitter.issuer, "jwks_url": transmitter.jwks_url}
    body = {"name": "Acme renamed", "type": "jamf", "settings": settings}
    response = api.put(f"{PROVIDERS}/{stream.pk}", body, format="json")
    assert response.status_code == 200, response.content
    stream.refresh_from_db()
    assert (stream.name, stream.provider_type, stream.config_method) == (
        "Acme renamed", "jamf", "ISSUER_AND_JWKS_URL"
    )  # fmt: skip
    assert response.json()["settings"]["well_known_url"] is None


def test_replace_that_fails_validation_changes_nothing(api, stream, transmitter):
    transmitter.publish_jwks()  # no usable key any more
    body = okta_ssf_body(transmitter, name="Other name")
    assert_okta_error(api.put(f"{PROVIDERS}/{stream.pk}", body, format="json"), 400, "E0000001")
    stream.refresh_from_db()
    assert stream.name == "Acme MDM"


def test_delete_is_204_then_404(api, stream):
    response = api.delete(f"{PROVIDERS}/{stream.pk}")
    assert response.status_code == 204
    assert not response.content
    assert_okta_error(api.get(f"{PROVIDERS}/{stream.pk}"), 404, "E0000007")


def test_lifecycle_flips_status_links_and_refuses_sets(api, stream, transmitter, push):
    response = api.post(f"{PROVIDERS}/{stream.pk}/lifecycle/deactivate")
    assert response.status_code == 200
    assert response.json()["status"] == "INACTIVE"
    assert set(response.json()["_links"]) == {"self", "activate"}
    assert push(transmitter.make_set()).json()["err"] == "access_denied"
    response = api.post(f"{PROVIDERS}/{stream.pk}/lifecycle/activate")
    assert response.json()["status"] == "ACTIVE"
    assert set(response.json()["_links"]) == {"self", "deactivate"}
    assert push(transmitter.make_set()).status_code == 202


def test_readonly_token_reads_but_every_write_is_403(readonly_api, stream, transmitter):
    url = f"{PROVIDERS}/{stream.pk}"
    assert readonly_api.get(PROVIDERS).status_code == 200
    assert readonly_api.get(url).status_code == 200
    writes = [
        readonly_api.post(PROVIDERS, okta_ssf_body(transmitter, name="New"), format="json"),
        readonly_api.put(url, okta_ssf_body(transmitter, name="New"), format="json"),
        readonly_api.delete(url),
        readonly_api.post(f"{url}/lifecycle/deactivate"),
    ]
    for response in writes:
        assert_okta_error(response, 403, "E0000006")
    stream.refresh_from_db()
    assert (stream.name, stream.status) == ("Acme MDM", StreamStatus.ACTIVE)
    assert Stream.objects.count() == 1


def test_console_session_works_from_the_browser_with_csrf(super_admin, stream):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(super_admin)
    assert browser.get(PROVIDERS).status_code == 200
    url = f"{PROVIDERS}/{stream.pk}/lifecycle/deactivate"
    causes = assert_okta_error(browser.post(url), 403, "E0000006")
    assert causes == ["CSRF Failed: CSRF cookie not set."]
    browser.get("/api/v1/docs")  # the API reference page (Swagger UI) sets the CSRF cookie
    token = browser.cookies["csrftoken"].value
    response = browser.post(url, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200
    stream.refresh_from_db()
    assert stream.status == StreamStatus.INACTIVE


def test_delete_of_a_managed_stream_the_transmitter_refuses_is_502(api, stream, transmitter):
    transmitter.server.route("DELETE", "/ssf/stream", status=500)
    stream.metadata = {
        **stream.metadata,
        "configuration_endpoint": transmitter.server.url("/ssf/stream"),
    }
    stream.save()
    StreamManagement.objects.create(
        stream=stream, remote_stream_id="remote-1", delivery_method=DeliveryMethod.PUSH,
        delivery_endpoint="https://receiver.example/push", auth_method=ManagementAuth.STATIC_TOKEN,
        encrypted_token=encrypt("management-token"),
    )  # fmt: skip
    (cause,) = assert_okta_error(api.delete(f"{PROVIDERS}/{stream.pk}"), 502, "E0000009")
    assert "500" in cause
    assert Stream.objects.filter(pk=stream.pk).exists()


def test_lone_surrogates_in_a_body_are_a_400_not_a_500(api):
    body = b'{"name": "\\ud800", "type": "x", "settings": {"issuer": "a", "jwks_url": "b"}}'
    response = api.post(PROVIDERS, body, content_type="application/json")
    assert_okta_error(response, 400, "E0000003")
