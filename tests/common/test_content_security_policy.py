"""The Content-Security-Policy: on every console page, sign-in and error page, and nothing inline
in them that it would refuse (README "Security")."""

import html
import re
from collections import deque
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from django.conf import settings
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse

from common.services import api_token_create
from risk.mapping import OKTA
from risk.services.directory import entity_create
from risk.services.policy_config import (
    connected_app_create,
    mapping_override_set,
    policy_rule_save,
    workflow_create,
)
from risk.services.processing import security_events_process_pending
from scim.services import scim_client_create
from streams.services import stream_push_secret_rotate

pytestmark = pytest.mark.django_db
POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
    "base-uri": ["'none'"],
    "object-src": ["'none'"],
}
# Console URLs that are not pages: POST-only actions (each answers a form on a page the walk
# visits), the sign-in steps that only exist mid-sign-in or with SSO configured (tested below
# or in tests/common/test_sso.py), and the machine endpoints (JSON, not HTML).
NOT_PAGES = {
    "logout", "login", "password_change_done",
    "identity:sso_start", "identity:sso_callback", "identity:mfa_verify",
    "identity:recovery_codes", "identity:mfa_reset",
    "streams:stream_activate", "streams:stream_deactivate", "streams:stream_push_secret",
    "streams:stream_refresh", "streams:stream_status", "streams:stream_verify",
    "streams:stream_subject_add", "streams:stream_subject_remove",
    "risk:entity_risk_set", "risk:entity_risk_reset", "risk:detection_dismiss",
    "risk:mapping_override_delete",
    "events:security_event_push", "events:security_event_push_stream",
}  # fmt: skip
LINK = re.compile(r'\b(?:href|hx-get)="([^"]+)"')


def _policy(response) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]
    directives = (part.split() for part in header.split(";") if part.strip())
    return {name: sources for name, *sources in directives}


def _assert_policy(response, *, nonce: bool = False):
    policy = _policy(response)
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response.headers["Content-Security-Policy"]
    script_src = policy.pop("script-src")
    assert [s for s in script_src if not s.startswith("'nonce-")] == ["'self'"]
    assert len(script_src) == (2 if nonce else 1)
    assert policy == {name: s for name, s in POLICY.items() if name != "script-src"}


class _InlineFinder(HTMLParser):
    """Collects what the policy refuses: style attributes, <style>, on* handlers, and inline
    scripts without the response's nonce (a JSON data block, as json_script writes for the
    charts, is never run, so the policy does not apply to it)."""

    def __init__(self, nonce: str):
        super().__init__()
        self.nonce, self.found = nonce, []

    def handle_starttag(self, tag, attrs):
        names = dict(attrs)
        self.found += [f"<{tag} {name}=>" for name in names if name == "style" or name[:2] == "on"]
        if tag == "style":
            self.found.append("<style>")
        if (
            tag == "script"
            and "src" not in names
            and names.get("type") != "application/json"
            and (not self.nonce or names.get("nonce") != self.nonce)
        ):
            self.found.append("<script> without the nonce")  # fmt: skip


def _inline(response) -> list[str]:
    nonces = [s for s in _policy(response)["script-src"] if s.startswith("'nonce-")]
    finder = _InlineFinder(nonces[0][7:-1] if nonces else "")
    finder.feed(response.content.decode())
    return finder.found


def _url_names() -> set[str]:
    def walk(patterns, namespace=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                yield from walk(pattern.url_patterns, inner)
            elif isinstance(pattern, URLPattern) and pattern.name:
                yield namespace + pattern.name

    # The JSON APIs (ours and SCIM's) are not pages.
    return {
        name for name in walk(get_resolver().url_patterns)
        if not name.startswith(("api:", "scim_api:"))
    }  # fmt: skip


def _walk(client: Client, *starts: str) -> dict[str, object]:
    """GET every same-site link and hx-get from `starts` on (at most 3 URLs a view, so that
    filter and page links do not multiply): {url: response}."""
    seen: dict[str, object] = {}
    per_view: dict[str, int] = {}
    queue = deque(starts)
    while queue:
        url = queue.popleft()
        parts = urlsplit(url)
        if url in seen or parts.path.startswith(settings.STATIC_URL):
            continue
        view = resolve(parts.path).view_name
        if per_view.get(view, 0) >= 3:
            continue
        per_view[view] = per_view.get(view, 0) + 1
        response = seen[url] = client.get(url)
        if response.status_code == 302:
            queue.append(response.headers["Location"])
        if "text/html" in response.headers.get("Content-Type", ""):
            for link in LINK.findall(response.content.decode()):
                target = urlsplit(urljoin(url, html.unescape(link)))
                if not target.netloc or target.netloc == "testserver":
                    queue.append(target.path + (f"?{target.query}" if target.query else ""))
    return seen


@pytest.fixture
def console_data(stream, transmitter, push, super_admin, rotated_rsa_key):
    """One of everything the console lists, so that the walk reaches every page."""
    entity_create(email="alice@example.com", first_name="Alice", last_name="Liddell")
    token = transmitter.make_set(
        events={OKTA + "user-risk-change": {"current_level": "high"}},
        sub_id={"format": "email", "email": "alice@example.com"},
    )
    assert push(token).status_code == 202
    security_events_process_pending()
    workflow, _secret = workflow_create(name="Ticket", url="https://hooks.example/abc")
    app = connected_app_create(
        name="Slack", revocation_endpoint="https://slack.example/revoke", token="t0k"
    )
    policy_rule_save(name="High", risk_level="HIGH", workflow=workflow, apps=[app])
    mapping_override_set(stream=stream, event_type=OKTA + "user-risk-change", outcome="LOW")
    api_token_create(user=super_admin, name="CI")
    scim_client_create(name="Okta provisioning")
    # A refused SET (signed by a key the transmitter never published) and then a push secret.
    assert push(transmitter.make_set(key=rotated_rsa_key)).status_code == 400
    stream_push_secret_rotate(stream=stream)


def test_every_console_page_has_the_policy_and_nothing_inline(admin_client, console_data):
    pages = _walk(admin_client, "/", reverse("identity:mfa_manage"))
    visited = {resolve(urlsplit(url).path).view_name for url in pages}
    assert visited | NOT_PAGES >= _url_names(), "pages the walk did not reach"
    assert "api:docs" in visited
    for url, response in pages.items():
        assert response.status_code in (200, 302), url
        _assert_policy(response, nonce=url.startswith(reverse("api:docs")))
        if "text/html" in response.headers["Content-Type"]:
            assert _inline(response) == [], url


def test_the_api_docs_script_carries_a_fresh_nonce(admin_client):
    first, second = (admin_client.get(reverse("api:docs")) for _ in range(2))
    nonces = [_policy(r)["script-src"][1] for r in (first, second)]
    assert nonces[0] != nonces[1]
    assert f'<script nonce="{nonces[0][7:-1]}">' in first.content.decode()
    assert "SwaggerUIBundle(" in first.content.decode()


def test_sign_in_and_error_pages_have_the_policy(client, readonly_client, stream):
    login = client.get(reverse("login"))
    forbidden = readonly_client.get(reverse("streams:stream_add"))
    missing = readonly_client.get("/no/such/page/")
    csrf_client = Client(enforce_csrf_checks=True)
    csrf = csrf_client.post(reverse("login"), {"username": "x", "password": "y"})
    for response, status in ((login, 200), (forbidden, 403), (missing, 404), (csrf, 403)):
        assert response.status_code == status
        _assert_policy(response)
        assert _inline(response) == []
    assert "Form expired" in csrf.content.decode()


def test_templates_have_no_inline_style_script_or_handler():
    """Caught before any page renders: a template that gains one fails here."""
    refused = re.compile(r"""\sstyle\s*=|<style|<script(?![^>]*\b(?:src|nonce)=)|\son[a-z]+\s*=""")
    templates = Path(settings.BASE_DIR, "templates").rglob("*.html")
    found = {str(path): refused.findall(path.read_text()) for path in templates}
    assert {path: hits for path, hits in found.items() if hits} == {}


def test_read_only_admins_see_connected_app_endpoints_by_origin_only(admin_client, readonly_client):
    app = connected_app_create(
        name="Zoom", revocation_endpoint="https://zoom.example/ulo/s3cr3t?key=k3y", token="t0k"
    )
    listing = reverse("risk:connected_app_list")
    masked = readonly_client.get(listing).content.decode()
    assert "https://zoom.example/\N{HORIZONTAL ELLIPSIS}" in masked
    assert "s3cr3t" not in masked
    assert "k3y" not in masked
    assert "https://zoom.example/ulo/s3cr3t?key=k3y" in admin_client.get(listing).content.decode()
    edit = readonly_client.get(reverse("risk:connected_app_edit", args=[app.pk]))
    assert edit.status_code == 403
    assert "s3cr3t" not in edit.content.decode()
