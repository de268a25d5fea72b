"""The base of every management API view, and Okta's Link-header pagination."""

from django.http import QueryDict
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


def _page_url(request, *, after: str, limit: int) -> str:
    """The request's URL for the page at `after`, written as Okta writes it: `after` first, then
    `limit`, then the other parameters (Netskope's plugin cuts `after` out of the header with a
    pattern that expects exactly that)."""
    query = QueryDict(mutable=True)
    if after:
        query["after"] = after
    query["limit"] = str(limit)
    for key, values in request.query_params.lists():
        if key not in ("after", "limit"):
            query.setlist(key, values)
    return request.build_absolute_uri("?" + query.urlencode())


def link_header(request, *, after: str | None, limit: int) -> str:
    """Okta's `Link` header: the page itself (`self`) and, when there is one, the next page."""
    links = [f'<{_page_url(request, after=request.query_params.get("after", ""), limit=limit)}>'
             '; rel="self"']  # fmt: skip
    if after is not None:
        links.append(f'<{_page_url(request, after=after, limit=limit)}>; rel="next"')
    return ", ".join(links)
