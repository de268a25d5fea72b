"""The SSF stream management client (SSF 1.0 §8): what this receiver asks of a transmitter.

Every call goes through streams.fetch (the safe outbound rules) with the management credential
as a bearer token: a static token, or one from OAuth client credentials (RFC 6749 §4.4, scopes
`ssf.read ssf.manage`, the client authenticated by HTTP Basic or in the form body), kept until
shortly before it expires. Every stream configuration that comes back is checked: its `iss`
must be the stream's issuer and its `aud` must name us (SSF §8.1.1).

A refusal carries the transmitter's own answer (status and a bounded excerpt of its body, with
the secrets we sent masked), because "answered HTTP 422" alone does not tell an admin what to
change. A stream id of "" means a single-stream transmitter of the 2021 drafts (Duo's example),
whose configurations have no `stream_id`: its calls then carry none.
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
from streams.models import ManagementAuth, TokenAuthMethod

TOKEN_EXPIRY_MARGIN_SECONDS = 30
ANSWER_EXCERPT_CHARS = 300
# What FastAPI (pydantic) adds to each validation error: our own request echoed back ("input",
# "ctx") and a documentation link ("url"). Dropped from excerpts: noise, and it may echo secrets.
_ECHO_MEMBERS = frozenset({"input", "ctx", "url"})


class ManagementError(Exception):
    """A management call failed; `status` is the HTTP status when there was an answer, `answer`
    a bounded excerpt of what the transmitter said (for people; never markup) and `refusal` its
    whole answer less pydantic's echo (for code that reads which members it names)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after: int | None = None,
        answer: str = "",
        refusal: str = "",
    ):
        super().__init__(message)
        self.status, self.retry_after = status, retry_after
        self.answer, self.refusal = answer, refusal

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
    token_auth_method: str = TokenAuthMethod.CLIENT_SECRET_BASIC

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(value for value in (self.token, self.client_secret) if value)


def _without_echo(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_echo(v) for k, v in value.items() if k not in _ECHO_MEMBERS}
    if isinstance(value, list):
        return [_without_echo(item) for item in value]
    return value


def answer_text(body: bytes) -> str:
    """A transmitter's answer as text: JSON compacted, less pydantic's echo of our request."""
    try:
        return json.dumps(_without_echo(json.loads(body)), ensure_ascii=False,
                          separators=(",", ":"))  # fmt: skip
    except (ValueError, RecursionError):
        return body.decode("utf-8", errors="replace")


def answer_excerpt(body: bytes, *, secrets: tuple[str, ...] = ()) -> str:
    """What a transmitter answered, for a message: one line of at most ANSWER_EXCERPT_CHARS,
    secrets we sent masked, control characters dropped. Plain text: the page escapes it."""
    text = answer_text(body)
    for secret in secrets:
        text = text.replace(secret, "[redacted]")
    text = "".join(c if c.isprintable() else " " for c in text)
    text = " ".join(text.split())
    if len(text) > ANSWER_EXCERPT_CHARS:
        text = text[: ANSWER_EXCERPT_CHARS - 1] + "…"
    return text


def _secrets_sent(credentials: Credentials, body: Any) -> tuple[str, ...]:
    """The secrets in a request: the credential's and a push `authorization_header`, with and
    without its scheme (some transmitters keep only the token: solarssk)."""
    found = list(credentials.secrets)
    delivery = body.get("delivery") if isinstance(body, dict) else None
    header = delivery.get("authorization_header") if isinstance(delivery, dict) else None
    if isinstance(header, str) and header:
        found += [header, header.partition(" ")[2]]
    return tuple(sorted({s for s in found if s}, key=len, reverse=True))


def _refusal(what: str, response: fetch.FetchedResponse, secrets: tuple[str, ...]) -> str:
    excerpt = answer_excerpt(response.body, secrets=secrets)
    return f"{what} answered HTTP {response.status}" + (f": {excerpt}" if excerpt else ".")


_tokens: dict[tuple[str, str], tuple[str, float]] = {}
_tokens_lock = threading.Lock()


def _client_credentials_token(credentials: Credentials, *, renew: bool) -> str:
    key = (credentials.token_url, credentials.client_id)
    with _tokens_lock:
        cached = _tokens.get(key)
    if cached and not renew and cached[1] > time.monotonic():
        return cached[0]
    form = {"grant_type": "client_credentials", "scope": credentials.scope}
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
    if credentials.token_auth_method == TokenAuthMethod.CLIENT_SECRET_POST:
        # RFC 6749 §2.3.1: the id and secret as form parameters (the OpenID conformance suite's CI).
        form |= {"client_id": credentials.client_id, "client_secret": credentials.client_secret}
    else:
        # RFC 6749 §2.3.1: form-encode the id and secret, then HTTP Basic.
        client_id, secret = (quote(v, safe="") for v in (credentials.client_id,
                                                          credentials.client_secret))  # fmt: skip
        pair = f"{client_id}:{secret}"
        headers["Authorization"] = f"Basic {base64.b64encode(pair.encode()).decode()}"
    response = fetch.safe_request(
        "POST", credentials.token_url, data=urlencode(form).encode(), headers=headers
    )
    if response.status != 200:
        excerpt = answer_excerpt(response.body, secrets=credentials.secrets)
        raise ManagementError(
            f"The token endpoint refused the client credentials ({credentials.token_auth_method})"
            f": HTTP {response.status}" + (f": {excerpt}" if excerpt else "."),
            status=response.status,
            answer=excerpt,
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


def with_stream_id(stream_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """A request body naming the stream, unless the transmitter has a single unnamed one."""
    return {"stream_id": stream_id, **body} if stream_id else body


def _id_params(stream_id: str) -> dict[str, str] | None:
    return {"stream_id": stream_id} if stream_id else None


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
        secrets = _secrets_sent(self.credentials, body)
        if response.status not in expect:
            raise ManagementError(
                _refusal(f"{method} {url}", response, secrets),
                status=response.status,
                retry_after=_retry_after(response),
                answer=answer_excerpt(response.body, secrets=secrets),
                refusal=answer_text(response.body),
            )
        if not response.body.strip():
            return response.status, None
        try:
            return response.status, json.loads(response.body)
        except (ValueError, RecursionError) as exc:
            excerpt = answer_excerpt(response.body, secrets=secrets)
            raise ManagementError(
                f"{method} {url} did not answer with JSON: {excerpt}", answer=excerpt
            ) from exc

    def checked_config(self, config: Any, *, needs_id: bool = True) -> dict[str, Any]:
        """SSF §8.1.1: the stream's `iss` must be the issuer; `aud` must name this receiver.

        A configuration without `iss` (solarssk leaves it out) passes: its SETs are held to the
        issuer anyway. `needs_id` is false where a 2021-draft transmitter may omit `stream_id`.
        """
        if not isinstance(config, dict) or (needs_id and not config.get("stream_id")):
            raise ManagementError("The transmitter answered without a stream configuration.")
        iss = config.get("iss")
        if iss is not None and normalize_issuer(str(iss)) != normalize_issuer(self.issuer):
            raise ManagementError(f"The stream's iss {iss!r} is not the transmitter's issuer.")
        aud = config.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        ours = normalize_issuer(settings.RECEIVER_AUDIENCE)
        if not any(isinstance(a, str) and normalize_issuer(a) == ours for a in audiences):
            raise ManagementError(f"The stream's aud {aud!r} does not name this receiver.")
        return config

    def create_stream(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST the configuration; the answer may lack `stream_id` (2021 drafts: read it back)."""
        _status, config = self.call(
            "POST", self.endpoint("configuration_endpoint"), body=body, expect=(200, 201)
        )
        return self.checked_config(config, needs_id=False)

    def read_streams(self) -> list[dict[str, Any]]:
        """GET without stream_id: SSF answers an array; a single-stream transmitter its one
        configuration, perhaps with no `stream_id`."""
        _status, found = self.call("GET", self.endpoint("configuration_endpoint"))
        found = found if isinstance(found, list) else [found] if found else []
        return [self.checked_config(config, needs_id=False) for config in found]

    def read_stream(self, stream_id: str) -> dict[str, Any]:
        if not stream_id:
            found = self.read_streams()
            if not found:
                raise ManagementError("The transmitter has no stream for this receiver.")
            return found[0]
        _status, config = self.call(
            "GET", self.endpoint("configuration_endpoint"), params=_id_params(stream_id)
        )
        return self.checked_config(config)

    def change_stream(self, method: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """PATCH (update) or PUT (replace); None when the transmitter answered 202 (later)."""
        status, config = self.call(
            method, self.endpoint("configuration_endpoint"), body=body, expect=(200, 202)
        )
        return None if status == 202 else self.checked_config(config, needs_id=False)

    def delete_stream(self, stream_id: str) -> None:
        self.call(
            "DELETE",
            self.endpoint("configuration_endpoint"),
            params=_id_params(stream_id),
            expect=(200, 204, 404),
        )

    def get_status(self, stream_id: str) -> dict[str, Any]:
        _status, body = self.call(
            "GET", self.endpoint("status_endpoint"), params=_id_params(stream_id)
        )
        return body if isinstance(body, dict) else {}

    def set_status(self, stream_id: str, status: str, reason: str = "") -> dict[str, Any] | None:
        change = {"status": status} | ({"reason": reason} if reason else {})
        body = with_stream_id(stream_id, change)
        code, answer = self.call(
            "POST", self.endpoint("status_endpoint"), body=body, expect=(200, 202)
        )
        return None if code == 202 else (answer if isinstance(answer, dict) else body)

    def add_subject(self, stream_id: str, subject: dict[str, Any]) -> None:
        self.call(
            "POST",
            self.endpoint("add_subject_endpoint"),
            body=with_stream_id(stream_id, {"subject": subject, "verified": True}),
            expect=(200, 204),
        )

    def remove_subject(self, stream_id: str, subject: dict[str, Any]) -> None:
        self.call(
            "POST",
            self.endpoint("remove_subject_endpoint"),
            body=with_stream_id(stream_id, {"subject": subject}),
            expect=(200, 204),
        )

    def request_verification(self, stream_id: str, state: str) -> None:
        self.call(
            "POST",
            self.endpoint("verification_endpoint"),
            body=with_stream_id(stream_id, {"state": state}),
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
