"""The OpenAPI schema: valid, complete, served with a local docs page, and true to the API."""

import json

import pytest
import schemathesis
from django.test import Client
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from drf_spectacular.validation import validate_schema
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from config.wsgi import application

SCHEMA = "/api/v1/schema"
DOCS = "/api/v1/docs"


@pytest.mark.django_db
def test_schema_is_valid_openapi_3_with_every_endpoint(api):
    response = api.get(SCHEMA)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi+json")
    assert "X-Rate-Limit-Remaining" in response
    served = response.json()
    validate_schema(served)
    assert served == api_schema.raw_schema
    assert served["openapi"].startswith("3.")
    assert {
        "/api/v1/security-events-providers",
        "/api/v1/security-events-providers/{stream_id}",
        "/api/v1/security-events-providers/{stream_id}/lifecycle/activate",
        "/api/v1/security-events-providers/{stream_id}/lifecycle/deactivate",
        "/api/v1/logs",
        "/api/v1/users",
        "/api/v1/users/{user_id}",
        "/api/v1/users/{user_id}/risk",
        "/security/api/v1/security-events",
    } <= set(served["paths"])
    push = served["paths"]["/security/api/v1/security-events"]["post"]
    assert "security" not in push  # no API token: a SET's signature is its credential
    assert set(push["requestBody"]["content"]) == {"application/secevent+jwt"}
    assert {"202", "400", "413", "415", "503"} <= set(push["responses"])
    create = served["paths"]["/api/v1/security-events-providers"]["post"]
    assert create["operationId"] == "createSecurityEventsProviderInstance"
    assert {"200", "400", "401", "403", "429"} <= set(create["responses"])
    assert served["components"]["securitySchemes"]["apiToken"]["name"] == "Authorization"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("accept", "content_type"),
    [("application/json", "application/json"), ("application/yaml", "application/yaml"),
     ("application/vnd.oai.openapi", "application/vnd.oai.openapi")],
)  # fmt: skip
def test_schema_answers_the_accept_header_okta_clients_send(api, accept, content_type):
    response = api.get(SCHEMA, HTTP_ACCEPT=accept)
    assert response.status_code == 200
    assert response["Content-Type"].split(";")[0] == content_type
    assert b"/api/v1/security-events-providers" in response.content


@pytest.mark.django_db
def test_schema_needs_credentials(client):
    assert client.get(SCHEMA).status_code == 401


@pytest.mark.django_db
def test_docs_page_uses_local_assets_and_needs_sign_in(admin_client):
    assert Client().get(DOCS)["Location"].startswith("/accounts/login/")
    html = admin_client.get(DOCS).content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "://" not in html  # no CDN: every asset and the schema come from this server
    assert (
        admin_client.get(
            "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"
        ).status_code
        == 200
    )


# --- schemathesis: generated requests against the schema, through the WSGI app --------------
# The schema is generated here, offline, so that the cases exist at collection time; the first
# test above checks that the served schema is this one.
api_schema = schemathesis.openapi.from_dict(
    json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(public=True)))
)
api_schema.app = application
# A SET goes on the wire as the text it is.
schemathesis.serializer.alias("application/secevent+jwt", "text/plain")


@pytest.fixture
def generous_limit(settings):
    """Enough budget for every generated call; the limit itself is tested in test_auth."""
    settings.API_RATE_LIMIT_PER_MINUTE = 1_000_000


@api_schema.parametrize()
@hypothesis_settings(
    max_examples=50,
    deadline=None,
    # The same cases on every run (a CI gate must not flake) and no example database on disk.
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_conforms_to_its_schema(case, transactional_db, super_token, generous_limit):
    # Every other check runs (no 500, documented statuses, content types and bodies, 401 without
    # the token, 405 for other methods...). Not "schema-valid data must be accepted": a filter's
    # grammar, a name already taken or a transmitter that is not there cannot be put in a schema,
    # and the API answers those with a documented 400.
    case.call_and_validate(
        headers={"Authorization": f"SSWS {super_token}"},
        excluded_checks=[positive_data_acceptance],
    )
