"""A real OpenID provider for the SSO tests: panva's oidc-provider (npm), run by node on loopback.

tests/oidc/provider.mjs configures it: one confidential client (client_secret_basic, PKCE
required), the accounts given here with their claims, and the provider's own login form
(devInteractions), where the login typed is the account signed in. `.ci/run` installs it with
`npm ci --prefix tests/oidc`.
"""

import json
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urljoin

import requests

from tests.servers import free_port, wait_for_port

PROVIDER_DIR = Path(__file__).resolve().parent / "oidc"
CLIENT_ID = "ssf-receiver"
CLIENT_SECRET = "test-only-client-secret-0123456789abcdef"
SUPER_ADMIN_GROUP = "ssf-admins"
READ_ONLY_GROUP = "ssf-auditors"
ACCOUNTS = {
    "alice": {"email": "alice@example.com", "name": "Alice Admin", "groups": [SUPER_ADMIN_GROUP]},
    "rob": {"email": "rob@example.com", "name": "Rob Reader", "groups": [READ_ONLY_GROUP]},
    "nora": {"email": "nora@example.com", "name": "Nora Nobody", "groups": ["staff"]},
}


def configure_sso(settings, provider: "OidcProvider", **overrides) -> None:
    """Point the receiver's SSO settings at `provider`, with its groups mapped to the roles."""
    settings.SSO_ISSUER = provider.issuer
    settings.SSO_CLIENT_ID = CLIENT_ID
    settings.SSO_CLIENT_SECRET = CLIENT_SECRET
    settings.SSO_SCOPES = "openid email profile groups"
    settings.SSO_SUPER_ADMIN_VALUES = [SUPER_ADMIN_GROUP]
    settings.SSO_READ_ONLY_ADMIN_VALUES = [READ_ONLY_GROUP]
    for name, value in overrides.items():
        setattr(settings, name, value)


class OidcProvider:
    """One provider process; `sign_in` walks its login form the way a browser does."""

    def __init__(self, *, redirect_uris: list[str], accounts: dict | None = None):
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.accounts = json.loads(json.dumps(accounts or ACCOUNTS))
        self.config = {
            "port": self.port,
            "client": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                       "redirect_uris": redirect_uris},
            "accounts": self.accounts,
        }  # fmt: skip
        self.process: subprocess.Popen | None = None

    def start(self) -> "OidcProvider":
        node = shutil.which("node")
        if node is None or not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
            raise RuntimeError("The OpenID provider needs node and `npm ci --prefix tests/oidc`.")
        self.process = subprocess.Popen(
            [node, str(PROVIDER_DIR / "provider.mjs")],
            env={"OIDC_PROVIDER_CONFIG": json.dumps(self.config), "PATH": "/usr/bin:/bin"},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for_port(self.port, process=self.process)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def sign_in(self, authorization_url: str, login: str) -> str:
        """Follow the authorization request, submit the login form as `login`, and return the
        URL the provider redirects back to (the receiver's callback, with code and state)."""
        session = requests.Session()
        session.trust_env = False
        page = session.get(authorization_url, timeout=5)
        page.raise_for_status()
        action = re.search(r'<form[^>]*action="([^"]+)"', page.text)
        assert action, page.text[:500]
        response = session.post(
            urljoin(page.url, action.group(1)),
            data={"prompt": "login", "login": login, "password": "not-checked"},
            allow_redirects=False, timeout=5,
        )  # fmt: skip
        for _hop in range(10):
            location = urljoin(response.url, response.headers.get("Location", ""))
            if response.status_code not in (302, 303) or not location:
                raise AssertionError(f"The provider answered {response.status_code}: "
                                     f"{response.text[:500]}")  # fmt: skip
            if not location.startswith(self.issuer):
                return location
            response = session.get(location, allow_redirects=False, timeout=5)
        raise AssertionError("The provider redirected too many times.")
