"""The SSF stream management client (SSF 1.0 §8): what this receiver asks of a transmitter.

Every call goes through streams.fetch (the safe outbound rules) with the management credential
as a bearer token: a static token, or one from OAuth client credentials (RFC 6749 §4.4, scopes
`ssf.read ssf.manage`), kept until shortly before it expires. Every stream configuration that
comes back is checked: its `iss` must be the stream's issuer and its `aud` must name us
(SSF §8.1.1).
"""

import base64
import json
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from django.conf import settings

from common.metrics import management_call_counted
from streams import fetch
from streams.discovery import normalize_issuer
from streams.models import ManagementAuth

TOKEN_EXPIRY_MARGIN_SECONDS = 30


class ManagementError(Exception):
    """A management call failed; `status` is the HTTP status when there was an answer."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: int | None = None):
        super().__init__(message)
        self.status, self.retry_after = status, retry_after

    @property
    def transient(self) -> bool:
        return self.status is None or self.status >= 500 or self.status == 429


@dataclass(frozen=True)
class Credentials:
    """How we authenticate to a transmitter's management API (secrets in clear, in memory only)."""

    auth_method: str
    token: str = ""
    token_url: str = ""
    client_id: str = ""
    client_secret: str = ""
    scope: str = "ssf.read ssf.manage"


_tokens: dict[tuple[str, str], tuple[str, float]] = {}
_tokens_lock = threading.Lock()


def _client_credentials_token(credentials: Credentials, *, renew: bool) -> str:
    key = (credentials.token_url, credentials.client_id)
    with _tokens_lock:
        cached = _tokens.get(key)
    if cached and not renew and cached[1] > time.monotonic():
        return cached[0]
    # RFC 6749 §2.3.1: form-encode the id and secret, then HTTP Basic.
    pair = f"{quote(credentials.client_id, safe='')}:{quote(credentials.client_secret, safe='')}"
    basic = base64.b64encode(pair.encode()).decode()
    response = fetch.safe_request(
        "POST",
        credentials.token_url,
        data=urlencode({"grant_type": "client_credentials", "scope": credentials.scope}).encode(),
        headers={
            "Authorization": f"Basic {basic}",
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        },
    )
    if response.status != 200:
        raise ManagementError(
            f"The token endpoint refused the client credentials (HTTP {response.status}).",
            status=response.status,
        )
    body = response.json()
    token = body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        raise ManagementError("The token endpoint answered without an access_token.")
    lifetime = body.get("expires_in") if isinstance(body.get("expires_in"), int) else 300
    with _tokens_lock:
        _tokens[key] = (token, time.monotonic() + max(lifetime - TOKEN_EXPIRY_MARGIN_SECONDS, 1))
    return token


def _bearer(credentials: Credentials, *, renew: bool = False) -> str:
    if credentials.auth_method == ManagementAuth.CLIENT_CREDENTIALS:
        return _client_credentials_token(credentials, renew=renew)
    return credentials.token


MAX_RETRY_AFTER_SECONDS = 86400


def _retry_after(response: fetch.FetchedResponse) -> int | None:
    value = response.headers.get("Retry-After", "")
    return min(int(value), MAX_RETRY_AFTER_SECONDS) if value.isdigit() else None


class TransmitterClient:
    """Calls to one transmitter's management endpoints (from its SSF configuration metadata)."""

    def __init__(self, *, metadata: dict[str, Any], issuer: str, credentials: Credentials):
        self.metadata, self.issuer, self.credentials = metadata or {}, issuer, credentials

    def endpoint(self, name: str) -> str:
        url = self.metadata.get(name)
        if not isinstance(url, str) or not url:
            raise ManagementError(f"The transmitter's metadata has no {name}.")
        return url

    @management_call_counted
    def call(
        self,
        method: str,
        url: str,
        *,
        body: Any = None,
        params: dict | None = None,
        expect: tuple[int, ...] = (200,),
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        """One authenticated JSON call; returns (status, parsed body or None)."""
        if params:
            url = f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"
        for attempt in (1, 2):
            try:
                sent = {
                    "Authorization": f"Bearer {_bearer(self.credentials, renew=attempt == 2)}",
                    "Accept": "application/json",
                    **(headers or {}),
                }
                response = fetch.safe_request(method, url, json_body=body, headers=sent)
            except fetch.FetchError as exc:
                raise ManagementError(str(exc)) from exc
            renewable = self.credentials.auth_method == ManagementAuth.CLIENT_CREDENTIALS
            if response.status == 401 and renewable and attempt == 1:
                continue  # the cached token may have been revoked or expired early
            break
        if response.status not in expect:
            raise ManagementError(
                f"{method} {url} answered HTTP {response.status}.",
                status=response.status,
                retry_after=_retry_after(response),
            )
        if not response.body.strip():
            return response.status, None
        try:
            return response.status, json.loads(response.body)
        except (ValueError, RecursionError) as exc:
            raise ManagementError(f"{method} {url} did not answer with JSON.") from exc

    def checked_config(self, config: Any) -> dict[str, Any]:
        """SSF §8.1.1: the stream's `iss` must be the issuer; `aud` must name this receiver."""
        if not isinstance(config, dict) or not config.get("stream_id"):
            raise ManagementError("The transmitter answered without a stream configuration.")
        if normalize_issuer(str(config.get("iss", ""))) != normalize_issuer(self.issuer):
            raise ManagementError(
                f"The stream's iss {config.get('iss')!r} is not the transmitter's issuer."
            )
        aud = config.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        ours = normalize_issuer(settings.RECEIVER_AUDIENCE)
        if not any(isinstance(a, str) and normalize_issuer(a) == ours for a in audiences):
            raise ManagementError(f"The stream's aud {aud!r} does not name this receiver.")
        return config

    def create_stream(self, body: dict[str, Any]) -> dict[str, Any]:
        _status, config = self.call(
            "POST", self.endpoint("configuration_endpoint"), body=body, expect=(200, 201)
        )
        return self.checked_config(config)

    def read_streams(self) -> list[dict[str, Any]]:
        _status, found = self.call("GET", self.endpoint("configuration_endpoint"))
        found = found if isinstance(found, list) else [found] if found else []
        return [self.checked_config(config) for config in found]

    def read_stream(self, stream_id: str) -> dict[str, Any]:
        _status, config = self.call(
            "GET", self.endpoint("configuration_endpoint"), params={"stream_id": stream_id}
        )
        return self.checked_config(config)

    def change_stream(self, method: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """PATCH (update) or PUT (replace); None when the transmitter answered 202 (later)."""
        status, config = self.call(
            method, self.endpoint("configuration_endpoint"), body=body, expect=(200, 202)
        )
        return None if status == 202 else self.checked_config(config)

    def delete_stream(self, stream_id: str) -> None:
        self.call(
            "DELETE",
            self.endpoint("configuration_endpoint"),
            params={"stream_id": stream_id},
            expect=(200, 204, 404),
        )

    def get_status(self, stream_id: str) -> dict[str, Any]:
        _status, body = self.call(
            "GET", self.endpoint("status_endpoint"), params={"stream_id": stream_id}
        )
        return body if isinstance(body, dict) else {}

    def set_status(self, stream_id: str, status: str, reason: str = "") -> dict[str, Any] | None:
        body = {"stream_id": stream_id, "status": status, **({"reason": reason} if reason else {})}
        code, answer = self.call(
            "POST", self.endpoint("status_endpoint"), body=body, expect=(200, 202)
        )
        return None if code == 202 else (answer if isinstance(answer, dict) else body)

    def add_subject(self, stream_id: str, subject: dict[str, Any]) -> None:
        self.call(
            "POST",
            self.endpoint("add_subject_endpoint"),
            body={"stream_id": stream_id, "subject": subject, "verified": True},
            expect=(200, 204),
        )

    def remove_subject(self, stream_id: str, subject: dict[str, Any]) -> None:
        self.call(
            "POST",
            self.endpoint("remove_subject_endpoint"),
            body={"stream_id": stream_id, "subject": subject},
            expect=(200, 204),
        )

    def request_verification(self, stream_id: str, state: str) -> None:
        self.call(
            "POST",
            self.endpoint("verification_endpoint"),
            body={"stream_id": stream_id, "state": state},
            expect=(200, 202, 204),
        )

    def poll(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        """RFC 8936: one poll (or acknowledgement) request; the answer's `sets` and flags."""
        # RFC 8936 §2.4: a request that carries setErrs descriptions carries Content-Language.
        headers = {"Content-Language": "en"} if body.get("setErrs") else None
        _status, answer = self.call("POST", url, body=body, headers=headers)
        if not isinstance(answer, dict) or not isinstance(answer.get("sets", {}), dict):
            raise ManagementError("The poll answer has no 'sets' object.")
        return answer
