"""SCIM clients' bearer tokens (RFC 7644 §2: OAuth bearer tokens, RFC 6750) and their role.

A SCIM client is not a console admin: its token reaches /scim/v2/ and nothing else, and no
admin's session or API token reaches /scim/v2/.
"""

import re

from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission

from scim.models import ScimClient
from scim.selectors import scim_client_for_secret
from scim.services import scim_client_mark_used

BEARER = re.compile(r"(?i)bearer\s+(?P<secret>\S+)\s*")


class ScimClient401(AuthenticationFailed):
    """Refused credentials; the SCIM error handler renders it as an Error with status 401."""


class ScimClientAuthentication(BaseAuthentication):
    """`Authorization: Bearer <token>` of an active SCIM client; the request's auth is the
    client (request.user stays None: no console role comes with a SCIM token)."""

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        credentials = BEARER.fullmatch(header)
        if credentials is None:
            if header:
                raise ScimClient401("Send the SCIM client's token as 'Authorization: Bearer'.")
            return None
        client = scim_client_for_secret(secret=credentials["secret"])
        if client is None:
            raise ScimClient401("The SCIM token is not valid.")
        if not client.is_active:
            raise ScimClient401("The SCIM token has been revoked.")
        scim_client_mark_used(client=client)
        return None, client

    def authenticate_header(self, request) -> str:
        # RFC 6750 §3: the challenge makes DRF answer 401 rather than 403.
        return 'Bearer realm="scim"'


class IsScimClient(BasePermission):
    """The provisioning role: the request was made with an active SCIM client's token."""

    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, ScimClient)
