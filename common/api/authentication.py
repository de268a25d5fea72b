"""API token authentication: `Authorization: SSWS <token>` (Okta's scheme) or `Bearer <token>`.

The official Okta SDK (okta 3.x) writes the scheme and the token with no space between them
(`SSWS<token>`, `Bearer<token>`), and Okta answers those, so both forms are read here.
"""

import re

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed

from common.models import ApiTokenState
from common.selectors import api_token_for_secret
from common.services import api_token_mark_used

# The scheme, case-insensitively, then the token after optional whitespace (none from the SDK).
AUTHORIZATION = re.compile(r"(?i)(?:ssws|bearer)\s*(?P<secret>.*)", re.DOTALL)
REFUSALS = {
    ApiTokenState.EXPIRED: "The API token has expired.",
    ApiTokenState.REVOKED: "The API token has been revoked.",
}


class ApiTokenAuthentication(BaseAuthentication):
    """The token's user, with that user's console role; a request without a token falls through
    to the next authenticator (the console session)."""

    def authenticate(self, request):
        credentials = AUTHORIZATION.fullmatch(request.META.get("HTTP_AUTHORIZATION", ""))
        if credentials is None:
            return None
        token = api_token_for_secret(secret=credentials["secret"].strip())
        if token is None:
            raise AuthenticationFailed("The API token is not valid.")
        if token.state in REFUSALS:
            raise AuthenticationFailed(REFUSALS[token.state])
        if not token.user.is_active:
            raise AuthenticationFailed("The API token's user is deactivated.")
        api_token_mark_used(token=token)
        return token.user, token

    def authenticate_header(self, request) -> str:
        # A WWW-Authenticate challenge makes DRF answer 401 (not 403) without credentials.
        return 'SSWS realm="api"'


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """The token in the schema, as Okta's own OpenAPI describes `apiToken`."""

    target_class = ApiTokenAuthentication
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "An API token made in the console (Administration > API tokens) or "
            "with `manage.py create_api_token`, sent as `SSWS <token>` or `Bearer <token>`.",
        }
