"""Okta's SSF Receiver API: /api/v1/security-events-providers (a provider is our stream).

Shapes and status codes follow Okta's (create answers 200, delete 204). Validation is the
console's: the same `streams.services` functions, whose refusals become Okta error objects.
"""

import contextlib
from collections.abc import Callable
from typing import Any, ClassVar

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import reverse
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import serializers
from rest_framework.response import Response

from common.api.errors import OktaApiError, error_responses, not_found
from common.api.views import ManagementApi
from common.ids import is_okta_style_id
from streams import selectors, services, stream_management
from streams.discovery import DiscoveryError
from streams.models import ConfigMethod, Stream, StreamStatus
from streams.ssf_client import ManagementError

TAG = "SSF Receiver"
# Service argument -> where the field is in Okta's request body.
API_FIELDS = {
    "name": "name",
    "well_known_url": "settings.well_known_url",
    "issuer": "settings.issuer",
    "jwks_url": "settings.jwks_url",
    NON_FIELD_ERRORS: "",
}
# Okta's texts for a name or issuer another provider has; Netskope's plugin looks for the first
# one in errorCauses to find the provider it made before and update it.
OKTA_TAKEN = {
    "taken": ("name", "Security Events Provider name must be unique"),
    "issuer_taken": (
        "settings.issuer",
        "The provided issuer already exists for this organization.",
    ),
}


class ProviderSettingsInput(serializers.Serializer):
    """Either `well_known_url` (SSF-compliant) or `issuer` + `jwks_url`; null counts as absent."""

    well_known_url = serializers.CharField(
        max_length=1000, required=False, allow_blank=True, allow_null=True
    )
    issuer = serializers.CharField(
        max_length=700, required=False, allow_blank=True, allow_null=True
    )
    jwks_url = serializers.CharField(
        max_length=1000, required=False, allow_blank=True, allow_null=True
    )


class ProviderInput(serializers.Serializer):
    """Okta's SecurityEventsProviderRequest."""

    name = serializers.CharField(max_length=100)
    type = serializers.CharField(max_length=255)
    settings = ProviderSettingsInput()

    def service_kwargs(self) -> dict[str, str]:
        data = self.validated_data
        urls = {
            key: data["settings"].get(key) or "" for key in ("well_known_url", "issuer", "jwks_url")
        }
        return {"name": data["name"], "provider_type": data["type"], **urls}


class ProviderSettingsOutput(serializers.Serializer):
    well_known_url = serializers.CharField(allow_null=True)
    issuer = serializers.CharField()
    jwks_url = serializers.CharField()


class LinkHintsOutput(serializers.Serializer):
    allow = serializers.ListField(child=serializers.CharField())


class LinkOutput(serializers.Serializer):
    href = serializers.URLField()
    hints = LinkHintsOutput()


class ProviderLinksOutput(serializers.Serializer):
    """`self` always; `deactivate` while ACTIVE, `activate` while INACTIVE."""

    self = LinkOutput()
    activate = LinkOutput(required=False)
    deactivate = LinkOutput(required=False)


class ProviderOutput(serializers.Serializer):
    """Okta's SecurityEventsProviderResponse."""

    id = serializers.CharField()
    name = serializers.CharField()
    type = serializers.CharField(source="provider_type")
    status = serializers.ChoiceField(choices=StreamStatus.choices)
    settings = serializers.SerializerMethodField()
    _links = serializers.SerializerMethodField()

    @extend_schema_field(ProviderSettingsOutput)
    def get_settings(self, stream: Stream) -> dict:
        well_known = stream.config_method == ConfigMethod.WELL_KNOWN_URL
        return {
            "well_known_url": stream.well_known_url if well_known else None,
            "issuer": stream.issuer,
            "jwks_url": stream.jwks_url,
        }

    @extend_schema_field(ProviderLinksOutput)
    def get__links(self, stream: Stream) -> dict:
        request = self.context["request"]
        href = request.build_absolute_uri(
            reverse("api:security_events_provider_detail", args=[stream.pk])
        )
        action = "deactivate" if stream.is_active else "activate"
        return {
            "self": {"href": href, "hints": {"allow": ["GET", "PUT", "DELETE"]}},
            action: {"href": f"{href}/lifecycle/{action}", "hints": {"allow": ["POST"]}},
        }


def _output(request, stream: Stream) -> Response:
    return Response(ProviderOutput(stream, context={"request": request}).data)


def _get_stream(stream_id: str) -> Stream:
    if is_okta_style_id(stream_id):
        with contextlib.suppress(Stream.DoesNotExist):
            return selectors.stream_get(stream_id=stream_id)
    raise not_found(resource="SecurityEventsProvider", resource_id=stream_id)


def _save(service, request, **kwargs) -> Stream:
    """Call a create/replace service with the request body; its refusal becomes a 400."""
    body = ProviderInput(data=request.data)
    body.is_valid(raise_exception=True)
    try:
        return service(**body.service_kwargs(), actor=request.user, **kwargs)
    except DjangoValidationError as exc:
        detail: dict[str, list[str]] = {}
        for error in exc.error_list if not hasattr(exc, "error_dict") else []:
            field, message = OKTA_TAKEN.get(error.code or "", ("", error.messages[0]))
            detail.setdefault(field, []).append(message)
        for key, errors in getattr(exc, "error_dict", {}).items():
            for error in errors:
                field, message = OKTA_TAKEN.get(error.code or "", ("", error.messages[0]))
                detail.setdefault(field or API_FIELDS.get(key, key), []).append(message)
        raise serializers.ValidationError(detail) from exc
    except DiscoveryError as exc:
        # The transmitter did not check out: what failed is in the message, as in the console.
        raise serializers.ValidationError({"settings": [str(exc)]}) from exc


@extend_schema(tags=[TAG])
class SecurityEventsProviderListApi(ManagementApi):
    """List the providers, or create one (validated against the transmitter, saved ACTIVE)."""

    @extend_schema(
        operation_id="listSecurityEventsProviderInstances",
        responses={200: ProviderOutput(many=True), **error_responses()},
    )
    def get(self, request):
        streams = selectors.stream_list()
        return Response(ProviderOutput(streams, many=True, context={"request": request}).data)

    @extend_schema(
        operation_id="createSecurityEventsProviderInstance",
        request=ProviderInput,
        responses={200: ProviderOutput, **error_responses(400)},
    )
    def post(self, request):
        return _output(request, _save(services.stream_create, request))


@extend_schema(tags=[TAG])
class SecurityEventsProviderDetailApi(ManagementApi):
    """Retrieve, replace (revalidated as on create) or delete one provider."""

    @extend_schema(
        operation_id="getSecurityEventsProviderInstance",
        responses={200: ProviderOutput, **error_responses(404)},
    )
    def get(self, request, stream_id: str):
        return _output(request, _get_stream(stream_id))

    @extend_schema(
        operation_id="replaceSecurityEventsProviderInstance",
        request=ProviderInput,
        responses={200: ProviderOutput, **error_responses(400, 404)},
    )
    def put(self, request, stream_id: str):
        stream = _get_stream(stream_id)
        return _output(request, _save(services.stream_update, request, stream=stream))

    @extend_schema(
        operation_id="deleteSecurityEventsProviderInstance",
        responses={204: None, **error_responses(404, 502)},
    )
    def delete(self, request, stream_id: str):
        stream = _get_stream(stream_id)
        try:
            services.stream_delete(stream=stream, actor=request.user)
        except ManagementError as exc:
            # A stream we manage at the transmitter is deleted there first (as in the console).
            raise OktaApiError(
                status=502,
                code="E0000009",
                summary="The transmitter did not delete the stream; nothing was removed.",
                causes=[str(exc)],
            ) from exc
        return Response(status=204)


class _LifecycleApi(ManagementApi):
    service: ClassVar[Callable[..., Stream]]

    def post(self, request, stream_id: str):
        stream = _get_stream(stream_id)
        type(self).service(stream=stream, actor=request.user)
        return _output(request, stream)


def _lifecycle_schema(operation_id: str):
    return extend_schema_view(
        post=extend_schema(
            tags=[TAG],
            operation_id=operation_id,
            request=None,
            responses={200: ProviderOutput, **error_responses(404)},
        )
    )


@_lifecycle_schema("activateSecurityEventsProviderInstance")
class SecurityEventsProviderActivateApi(_LifecycleApi):
    """Accept the provider's SETs again; activating an ACTIVE provider changes nothing."""

    service = services.stream_activate


@_lifecycle_schema("deactivateSecurityEventsProviderInstance")
class SecurityEventsProviderDeactivateApi(_LifecycleApi):
    """Refuse the provider's SETs (access_denied) until it is activated again."""

    service = services.stream_deactivate


class SubjectInput(serializers.Serializer):
    """SSF §8.1.3: the subject to add or remove, as an RFC 9493 subject identifier."""

    subject = serializers.DictField()

    def validate_subject(self, value: dict) -> dict:
        if not isinstance(value.get("format"), str) or not value["format"]:
            raise serializers.ValidationError("A subject identifier is an object with a format.")
        return value


class SubjectOutput(serializers.Serializer):
    subject = serializers.DictField()
    added_at = serializers.DateTimeField()


def _managed_stream(stream_id: str) -> Stream:
    stream = _get_stream(stream_id)
    if not hasattr(stream, "management"):
        raise OktaApiError(
            status=400,
            code="E0000001",
            summary="Api validation failed",
            causes=["This provider's stream is not managed at the transmitter."],
        )
    return stream


def _subject_request(request: Any, stream_id: str) -> tuple[Stream, dict[str, Any]]:
    """The managed stream named in the path and the subject in the body (400/404 otherwise)."""
    stream = _managed_stream(stream_id)
    body = SubjectInput(data=request.data)
    body.is_valid(raise_exception=True)
    return stream, body.validated_data["subject"]


def _transmitter_failed(exc: ManagementError) -> OktaApiError:
    return OktaApiError(
        status=502,
        code="E0000009",
        summary="The transmitter refused or could not be reached; nothing changed.",
        causes=[str(exc)],
    )


@extend_schema(tags=[TAG])
class SecurityEventsProviderSubjectsApi(ManagementApi):
    """The subjects this receiver added at the transmitter (streams whose default is NONE).

    Not an Okta API (Okta's receiver has no stream management); the body is SSF's.
    """

    @extend_schema(
        operation_id="listSecurityEventsProviderSubjects",
        responses={200: SubjectOutput(many=True), **error_responses(400, 404)},
    )
    def get(self, request, stream_id: str):
        stream = _managed_stream(stream_id)
        return Response(SubjectOutput(stream.subjects.order_by("added_at"), many=True).data)

    @extend_schema(
        operation_id="addSecurityEventsProviderSubject",
        request=SubjectInput,
        responses={201: SubjectOutput, **error_responses(400, 404, 502)},
    )
    def post(self, request, stream_id: str):
        stream, subject = _subject_request(request, stream_id)
        try:
            row = stream_management.stream_subject_add(
                stream=stream, subject=subject, actor=request.user
            )
        except ManagementError as exc:
            raise _transmitter_failed(exc) from exc
        return Response(SubjectOutput(row).data, status=201)


@extend_schema(tags=[TAG])
class SecurityEventsProviderSubjectRemoveApi(ManagementApi):
    """Remove a subject at the transmitter; its events are still accepted if they come."""

    @extend_schema(
        operation_id="removeSecurityEventsProviderSubject",
        request=SubjectInput,
        responses={204: None, **error_responses(400, 404, 502)},
    )
    def post(self, request, stream_id: str):
        stream, subject = _subject_request(request, stream_id)
        row = stream.subjects.filter(subject=subject).first()
        if row is None:
            raise not_found(resource="Subject", resource_id=str(subject))
        try:
            stream_management.stream_subject_remove(subject=row, actor=request.user)
        except ManagementError as exc:
            raise _transmitter_failed(exc) from exc
        return Response(status=204)
