"""The operator's endpoints: `/healthz` (liveness), `/readyz` (readiness), `/metrics` (Prometheus).

They are answered by a middleware at the top of MIDDLEWARE, before Django checks the Host header
and before the https redirect: Kubernetes probes and Prometheus reach a pod by its address over
plain http, and a probe that got a 400 (DisallowedHost) or a 301 would read as down, or as up
(kubelet counts a 3xx as success). No session, no CSRF, no database for liveness. Probes are
unauthenticated and say nothing sensitive (events.monitoring, common.health); `/metrics` needs
`Authorization: Bearer <METRICS_TOKEN>` and is off (404) while METRICS_TOKEN is empty.
"""

import hmac
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import add_never_cache_headers
from prometheus_client import CONTENT_TYPE_LATEST

from events.monitoring import metrics_exposition, readiness_report


def liveness(request: HttpRequest) -> HttpResponse:
    """200 while the process answers: a liveness probe restarts a process, not a database."""
    return JsonResponse({"status": "ok"})


def readiness(request: HttpRequest) -> HttpResponse:
    ready, body = readiness_report()
    return JsonResponse(body, status=200 if ready else 503)


def _bearer_token(request: HttpRequest) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def prometheus_metrics(request: HttpRequest) -> HttpResponse:
    expected = settings.METRICS_TOKEN
    if not expected:
        return HttpResponse(status=404)
    if not hmac.compare_digest(_bearer_token(request).encode(), expected.encode()):
        response = HttpResponse("A bearer token (METRICS_TOKEN) is required.\n", status=401,
                                content_type="text/plain")  # fmt: skip
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(metrics_exposition(), content_type=CONTENT_TYPE_LATEST)


ENDPOINTS: dict[str, Callable[[HttpRequest], HttpResponse]] = {
    "/healthz": liveness,
    "/readyz": readiness,
    "/metrics": prometheus_metrics,
}


class OperatorEndpointsMiddleware:
    """Answer the operator's endpoints (GET or HEAD) before the rest of the stack runs."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        endpoint = ENDPOINTS.get(request.path_info)
        if endpoint is None:
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            response = HttpResponse(status=405)
            response["Allow"] = "GET, HEAD"
            return response
        response = endpoint(request)
        add_never_cache_headers(response)
        return response
