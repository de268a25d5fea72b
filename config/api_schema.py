"""The OpenAPI schema (drf-spectacular) and its Swagger UI page, served from local assets.

The SET push endpoint (events.api.SecurityEventPushApi) is described here, from outside, so the
schema covers it without the protocol code knowing about documentation.
"""

from drf_spectacular.extensions import OpenApiViewExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.renderers import (
    OpenApiJsonRenderer,
    OpenApiJsonRenderer2,
    OpenApiYamlRenderer,
    OpenApiYamlRenderer2,
)
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework import serializers

from common.api.views import ManagementApi
from common.roles import ConsoleAccessMixin


class ApiSchemaView(ManagementApi, SpectacularAPIView):
    """The OpenAPI 3 schema: JSON by default (Okta's APIs speak JSON), YAML on request.

    Okta's clients send `Accept: application/json` on every call, so the schema is served under
    that media type too (and `application/yaml`), not only under OpenAPI's own.
    """

    renderer_classes = [
        OpenApiJsonRenderer,
        OpenApiJsonRenderer2,
        OpenApiYamlRenderer,
        OpenApiYamlRenderer2,
    ]


class ApiDocsView(ConsoleAccessMixin, SpectacularSwaggerView):
    """Swagger UI for signed-in admins; its calls use the console session (and its CSRF token).

    Its set-up script, which carries the CSRF token, stays inline and marked with the CSP nonce
    rather than served from a URL of its own (drf-spectacular's split view): no second request,
    and no script URL that answers with the token.
    """

    template_name = "api/docs.html"


class SetErrorOutput(serializers.Serializer):
    """RFC 8935 §2.3 error body."""

    err = serializers.CharField(
        help_text="invalid_request, invalid_key, invalid_issuer, invalid_audience, "
        "authentication_failed or access_denied"
    )
    description = serializers.CharField()


class HttpErrorOutput(serializers.Serializer):
    description = serializers.CharField()


class PushAutoSchema(AutoSchema):
    """One operation id per push URL: the shared one and the per-stream one."""

    def get_operation_id(self) -> str:
        return "pushSecurityEventToStream" if "{stream_id}" in self.path else "pushSecurityEvent"


class SecurityEventPushSchema(OpenApiViewExtension):
    """POST /security/api/v1/security-events: no API token (trust is the SET's signature)."""

    target_class = "events.api.SecurityEventPushApi"

    def view_replacement(self):
        @extend_schema(
            tags=["Security Event Tokens"],
            summary="Push a Security Event Token (RFC 8935)",
            description="One SET in compact JWS form. Verified and stored before the 202.",
            auth=[],
            request={"application/secevent+jwt": OpenApiTypes.STR},
            responses={
                202: OpenApiResponse(description="Accepted (also for a re-delivered jti)."),
                400: OpenApiResponse(SetErrorOutput, description="The SET was refused."),
                413: OpenApiResponse(HttpErrorOutput, description="Larger than SET_MAX_BYTES."),
                415: OpenApiResponse(HttpErrorOutput, description="Not a compact JWS."),
                503: OpenApiResponse(HttpErrorOutput, description="Try again later."),
            },
        )
        class Documented(self.target_class):
            schema = PushAutoSchema()

        return Documented
