"""The base of every management API view, and Okta's Link-header pagination."""

from rest_framework.views import APIView


class ManagementApi(APIView):
    """Throttle before the permission check, so refused calls count against the limit too, and
    put the X-Rate-Limit-* headers on every answer (429s and other errors included)."""

    def initial(self, request, *args, **kwargs):
        self.perform_authentication(request)
        self.check_throttles(request)
        super().initial(request, *args, **kwargs)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        state = getattr(request, "rate_limit", None)
        if state is not None:
            for name, value in state.headers().items():
                response[name] = value
        return response


def link_header(request, *, after: str | None) -> str:
    """Okta's `Link` header: the page itself (`self`) and, when there is one, the next page."""
    links = [f'<{request.build_absolute_uri()}>; rel="self"']
    if after is not None:
        query = request.query_params.copy()
        query["after"] = after
        links.append(f'<{request.build_absolute_uri("?" + query.urlencode())}>; rel="next"')
    return ", ".join(links)
