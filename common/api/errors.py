"""Okta's error object for every management API error (DRF's EXCEPTION_HANDLER).

`{"errorCode", "errorSummary", "errorLink", "errorId", "errorCauses": [{"errorSummary"}]}` with
Okta's codes, so Okta clients and SDKs read our errors as they read Okta's.
"""

from typing import Any

from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers
from rest_framework.views import exception_handler

from common.ids import okta_style_id

# Okta's code and summary for each status (developer.okta.com/docs/reference/error-codes).
OKTA_ERRORS = {
    400: ("E0000001", "Api validation failed"),
    401: ("E0000011", "Invalid token provided"),
    403: ("E0000006", "You do not have permission to perform the requested action"),
    404: ("E0000007", "Not found: Resource not found"),
    405: ("E0000022", "The endpoint does not support the provided HTTP method"),
    429: ("E0000047", "API call exceeded rate limit due to too many requests."),
}
MALFORMED_BODY = ("E0000003", "The request body was not well-formed.")
# Okta's "Illegal API argument" (E0000002), for what has no code of its own (406, 415).
OTHER_ERROR_CODE = "E0000002"
ERROR_DESCRIPTIONS = {
    400: "Invalid input (Okta error object; errorCauses say what is wrong)",
    401: "No valid API token or session (E0000011)",
    403: "The caller's role does not allow this (E0000006)",
    404: "Unknown id (E0000007)",
    429: "Rate limit exceeded (E0000047); see the X-Rate-Limit-* headers",
    502: "The transmitter refused or could not be reached (E0000009)",
}


class OktaApiError(exceptions.APIException):
    """An error with Okta's code, summary and causes, raised where the generic mapping is too
    vague (an unknown id, an invalid filter)."""

    def __init__(self, *, status: int, code: str, summary: str, causes: list[str] | None = None):
        super().__init__(detail=summary)
        self.status_code = status
        self.error_code = code
        self.summary = summary
        self.causes = causes or []


def not_found(*, resource: str, resource_id: str) -> OktaApiError:
    summary = f"Not found: Resource not found: {resource_id} ({resource})"
    return OktaApiError(status=404, code="E0000007", summary=summary)


def _flatten(detail: Any, path: str = "") -> list[tuple[str, str]]:
    """(field path, message) pairs of a DRF ValidationError detail; nested fields dotted."""
    if isinstance(detail, dict):
        pairs = []
        for key, value in detail.items():
            name = "" if key == "non_field_errors" else str(key)
            pairs += _flatten(value, f"{path}.{name}" if path and name else path or name)
        return pairs
    if isinstance(detail, list):
        return [pair for item in detail for pair in _flatten(item, path)]
    return [(path, str(detail))]


def okta_error(exc: exceptions.APIException, status: int) -> dict[str, Any]:
    """The Okta error object for a DRF exception answered with `status`."""
    causes: list[str] = []
    if isinstance(exc, OktaApiError):
        code, summary, causes = exc.error_code, exc.summary, exc.causes
    elif isinstance(exc, exceptions.ValidationError):
        pairs = _flatten(exc.detail)
        fields = list(dict.fromkeys(name for name, _message in pairs if name))
        code, summary = OKTA_ERRORS[400]
        summary += f": {', '.join(fields)}" if fields else ""
        causes = [f"{name}: {message}" if name else message for name, message in pairs]
    elif isinstance(exc, exceptions.ParseError):
        (code, summary), causes = MALFORMED_BODY, [str(exc.detail)]
    elif status in OKTA_ERRORS:
        code, summary = OKTA_ERRORS[status]
        if str(exc.detail) != str(exc.default_detail):
            causes = [str(exc.detail)]
    else:
        code, summary = OTHER_ERROR_CODE, f"The request was not valid: {exc.detail}"
    return {
        "errorCode": code,
        "errorSummary": summary,
        "errorLink": code,
        "errorId": okta_style_id("oae"),
        "errorCauses": [{"errorSummary": cause} for cause in causes],
    }


def okta_exception_handler(exc: Exception, context: dict) -> Any:
    """DRF's handler (statuses and headers such as Retry-After), with Okta's error body."""
    response = exception_handler(exc, context)
    if response is None:
        return None
    if not isinstance(exc, exceptions.APIException):
        # DRF turned Django's Http404 / PermissionDenied into its own; describe those.
        exc = (
            exceptions.NotFound() if response.status_code == 404 else exceptions.PermissionDenied()
        )
    response.data = okta_error(exc, response.status_code)
    return response


class ErrorCauseSerializer(serializers.Serializer):
    errorSummary = serializers.CharField()


class OktaErrorSerializer(serializers.Serializer):
    """Okta's error object (for the schema)."""

    errorCode = serializers.CharField()
    errorSummary = serializers.CharField()
    errorLink = serializers.CharField()
    errorId = serializers.CharField()
    errorCauses = ErrorCauseSerializer(many=True)


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """Schema entries for the errors an operation answers, besides 401, 403 and 429 (any one)."""
    return {
        status: OpenApiResponse(OktaErrorSerializer, description=ERROR_DESCRIPTIONS[status])
        for status in sorted({*statuses, 401, 403, 429})
    }
