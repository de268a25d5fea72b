"""The transmitter's HTTP side: metadata, JWKS, OAuth token endpoint, SSF management, poll, demo.

Plain `http.server`, so the peer runs inside the test process with no Django and no database.
Each endpoint is a function of (transmitter, request) returning a `Response`; a response's `after`
callback runs once the answer is written, which keeps verification asynchronous as SSF describes
(the 204 first, the verification SET after it).

Paths under the issuer's path P (the metadata itself is at /.well-known/ssf-configuration/P):
  GET P/jwks.json                       signing keys
  POST P/oauth2/token                   client credentials -> bearer token (`token_endpoint`)
  GET/POST/PATCH/PUT/DELETE P/ssf/stream, GET/POST P/ssf/status, POST P/ssf/subjects/add,
  POST P/ssf/subjects/remove, POST P/ssf/verify
                                        SSF management (bearer token: ssf.read reads,
                                        ssf.manage does everything)
  POST P/ssf/poll/<stream_id>           RFC 8936 poll (bearer token, ssf.read or ssf.manage)
  GET P/_demo, POST P/_demo/send        demo page and send trigger: no auth, loopback only
"""

import base64
import hmac
import html
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote_plus, urlsplit

from streams.transmitter.events import EVENT_TYPES
from streams.transmitter.state import SCOPES, ApiError, NoStreamError

if TYPE_CHECKING:
    from streams.transmitter.transmitter import SSFTransmitter

READ_SCOPES, WRITE_SCOPES = SCOPES, ("ssf.manage",)
JWKS_PATH, TOKEN_PATH, POLL_PREFIX = "/jwks.json", "/oauth2/token", "/ssf/poll/"
STREAM_PATH, STATUS_PATH, VERIFY_PATH = "/ssf/stream", "/ssf/status", "/ssf/verify"
ADD_SUBJECT_PATH, REMOVE_SUBJECT_PATH = "/ssf/subjects/add", "/ssf/subjects/remove"
ENDPOINT_PATHS = {
    "configuration_endpoint": STREAM_PATH,
    "status_endpoint": STATUS_PATH,
    "add_subject_endpoint": ADD_SUBJECT_PATH,
    "remove_subject_endpoint": REMOVE_SUBJECT_PATH,
    "verification_endpoint": VERIFY_PATH,
}


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: Any  # http.client.HTTPMessage: case-insensitive get()
    body: bytes

    def json(self) -> dict[str, Any]:
        """The JSON object in the body; an empty body is `{}` (RFC 8936 allows it for poll)."""
        if not self.body.strip():
            return {}
        try:
            data = json.loads(self.body)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise ApiError(400, "invalid_request", "the body must be a JSON object")
        return data

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode(errors="replace")).items()}


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    after: Callable[[], Any] | None = None


def _json(status: int, data: Any, *, after: Callable[[], Any] | None = None) -> Response:
    return Response(status, json.dumps(data).encode(), {"Content-Type": "application/json"}, after)


def _authorize(tx: "SSFTransmitter", request: Request, allowed: tuple[str, ...]) -> None:
    """Bearer token only in the Authorization header (CAEP Interop); 401 unknown, 403 scope."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    scopes = tx.state.token_scopes(token.strip()) if scheme.lower() == "bearer" else None
    if scopes is None:
        challenge = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
        raise ApiError(401, "invalid_token", "a valid bearer token is required", challenge)
    if not scopes & set(allowed):
        challenge = {"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{allowed[0]}"'}
        raise ApiError(403, "insufficient_scope", f"needs {' or '.join(allowed)}", challenge)


def _same(given: str, expected: str | None) -> bool:
    return expected is not None and hmac.compare_digest(given.encode(), expected.encode())


def token(tx: "SSFTransmitter", request: Request) -> Response:
    """OAuth 2.0 client credentials (RFC 6749 §4.4); the client authenticates by HTTP Basic
    (`client_secret_basic`) or form fields (`client_secret_post`), of `tx.token_auth_methods`."""
    form = request.form()
    offered = []
    if "client_secret_post" in tx.token_auth_methods:
        offered.append((form.get("client_id", ""), form.get("client_secret", "")))
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "basic" and "client_secret_basic" in tx.token_auth_methods:
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
            decoded = ""
        user, _, password = decoded.partition(":")
        # RFC 6749 §2.3.1 wants both form-encoded first; many clients skip it, so accept both.
        offered = [(user, password), (unquote_plus(user), unquote_plus(password))]
    if not any(_same(i, tx.client_id) and _same(s, tx.client_secret) for i, s in offered):
        challenge = {"WWW-Authenticate": 'Basic realm="ssf-transmitter"'}
        raise ApiError(401, "invalid_client", "unknown client or wrong secret", challenge)
    if form.get("grant_type") != "client_credentials":
        raise ApiError(400, "unsupported_grant_type", "only client_credentials is supported")
    scopes = form.get("scope", "").split() or list(SCOPES)
    if not set(scopes) <= set(SCOPES):
        raise ApiError(400, "invalid_scope", f"scopes are {' '.join(SCOPES)}")
    access_token = tx.state.issue_token(scopes, tx.token_lifetime)
    answer = {"access_token": access_token, "token_type": "Bearer", "scope": " ".join(scopes)}
    return _json(200, answer | {"expires_in": int(tx.token_lifetime)})


def metadata(tx: "SSFTransmitter", request: Request) -> Response:
    dialect = tx.dialect
    endpoints = {name: tx.endpoint_base + ENDPOINT_PATHS[name] for name in dialect.endpoints}
    document = {
        **({"spec_version": dialect.spec_version} if dialect.spec_version else {}),
        "issuer": tx.issuer,
        "jwks_uri": tx.jwks_url,
        "delivery_methods_supported": list(dialect.delivery_methods),
        **endpoints,
        "authorization_schemes": [{"spec_urn": "urn:ietf:rfc:6749"}],
        "default_subjects": tx.state.default_subjects,
        # Extension (receivers ignore unknown fields): where client credentials get a token.
        "token_endpoint": tx.token_url,
    }
    return _json(200, document | dialect.extra_metadata)


def jwks(tx: "SSFTransmitter", request: Request) -> Response:
    return _json(200, tx.keys.jwks())


def read_streams(tx: "SSFTransmitter", request: Request) -> Response:
    shaped = tx.dialect.shaped
    if "stream_id" in request.query or tx.dialect.single_stream:
        return _json(200, shaped(tx.state.read(request.query.get("stream_id"))))
    return _json(200, [shaped(config) for config in tx.state.configs()])


def create_stream(tx: "SSFTransmitter", request: Request) -> Response:
    """SSF create, under the dialect's rules; a dialect that verifies on create pushes its
    verification SET before answering (and may undo the stream unless that push got a 2xx)."""
    body, dialect = request.json(), tx.dialect
    dialect.check_create(body, tx.state.events_supported)
    config = tx.state.create(body)
    if dialect.verify_on_create:
        result = tx.verify_during_create()
        accepted = result is not None and result.status is not None and result.status < 300
        if dialect.undo_unless_verified and not accepted:
            tx.state.delete(config["stream_id"])
            raise dialect.error(
                502, "Verification SET delivery failed; stream registration was not confirmed."
            )
    return _json(dialect.create_status, dialect.shaped(config))


def update_stream(tx: "SSFTransmitter", request: Request) -> Response:
    body, replace = request.json(), request.method == "PUT"
    if tx.defer_changes:  # SSF §8.1.1.3/4: 202, accepted but not yet applied
        tx.state.read(body.get("stream_id"))  # an unknown stream is still a 404 now
        tx.deferred.append(lambda: tx.state.update(body, replace=replace))
        return Response(202)
    return _json(200, tx.dialect.shaped(tx.state.update(body, replace=replace)))


def delete_stream(tx: "SSFTransmitter", request: Request) -> Response:
    tx.state.delete(request.query.get("stream_id"))
    return Response(204)


def read_status(tx: "SSFTransmitter", request: Request) -> Response:
    return _json(200, tx.state.status(request.query.get("stream_id")))


def update_status(tx: "SSFTransmitter", request: Request) -> Response:
    body = request.json()
    if tx.defer_changes:  # SSF §8.1.2.2: 202 while the transmitter has not decided
        tx.state.status(body.get("stream_id"))
        tx.deferred.append(lambda: tx.deliver_released(
            tx.state.set_status(body.get("stream_id"), body.get("status"), body.get("reason"))
        ))  # fmt: skip
        return Response(202)
    released = tx.state.set_status(body.get("stream_id"), body.get("status"), body.get("reason"))
    answer = tx.state.status(body["stream_id"])
    return _json(200, answer, after=lambda: tx.deliver_released(released))


def add_subject(tx: "SSFTransmitter", request: Request) -> Response:
    tx.state.change_subject(request.json(), add=True)
    return Response(200)


def remove_subject(tx: "SSFTransmitter", request: Request) -> Response:
    tx.state.change_subject(request.json(), add=False)
    return Response(204)


def verify(tx: "SSFTransmitter", request: Request) -> Response:
    body = request.json()
    state = body.get("state")
    if state is not None and not isinstance(state, str):
        raise ApiError(400, "invalid_request", "state must be a string")
    tx.state.start_verification(body.get("stream_id"))
    return Response(204, after=lambda: tx.send_verification(state))


def poll(tx: "SSFTransmitter", request: Request) -> Response:
    stream_id = request.path.removeprefix(POLL_PREFIX)
    return _json(200, tx.state.poll(stream_id, request.json(), wait=tx.long_poll_timeout))


DEMO_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>SSF test transmitter</title></head>
<body><h1>SSF test transmitter</h1>
<p>Issuer <code>{issuer}</code>. {stream}</p>{sent}
<table><thead><tr><th>Event</th><th>URI</th><th>Send about</th></tr></thead><tbody>
{rows}</tbody></table>
<h2>Last pushes</h2><ul>{pushes}</ul></body></html>
"""
DEMO_ROW = (
    '<tr><td>{name}</td><td><code>{uri}</code></td><td><form method="post" action="{action}">'
    '<input type="hidden" name="event" value="{name}">'
    '<input name="subject" value="alice@example.com" aria-label="Subject email">'
    "<button>Send</button></form></td></tr>\n"
)


def demo_page(tx: "SSFTransmitter", request: Request) -> Response:
    """The catalogue with one send button per event type; plain forms, no JavaScript."""
    e = html.escape
    stream = tx.stream
    stream_text = (
        f"Stream <code>{e(stream['stream_id'])}</code>: {e(stream['delivery']['method'])}, "
        f"{e(tx.state.status(stream['stream_id'])['status'])}."
        if stream
        else "No stream yet: a receiver has to create one."
    )
    action = e(tx.endpoint_base + "/_demo/send")
    rows = "".join(
        DEMO_ROW.format(name=e(name), uri=e(et.uri), action=action)
        for name, et in EVENT_TYPES.items()
    )
    pushes = "".join(
        f"<li><code>{e(r.jti)}</code> {e(r.event_type)}: {r.status or e(r.error)}</li>"
        for r in tx.push_results[-10:]
    )
    sent = request.query.get("sent")
    page = DEMO_PAGE.format(
        issuer=e(tx.issuer),
        stream=stream_text,
        sent=f"<p>Sent <code>{e(sent)}</code>.</p>" if sent else "",
        rows=rows,
        pushes=pushes,
    )
    return Response(200, page.encode(), {"Content-Type": "text/html; charset=utf-8"})


def demo_send(tx: "SSFTransmitter", request: Request) -> Response:
    """Send one SET: JSON {"event", "subject"?, <fields and quirks>} -> {"jti"}; a form post
    (from the demo page) is redirected back to the page."""
    from_form = request.headers.get("Content-Type", "").startswith(
        "application/x-www-form-urlencoded"
    )
    options: dict[str, Any] = request.form() if from_form else request.json()
    event, subject = options.pop("event", None), options.pop("subject", None)
    if not isinstance(event, str):
        raise ApiError(400, "invalid_request", "event must be a catalogue name or URI")
    try:
        jti = tx.send(event, subject, **options)
    except ValueError as exc:
        raise ApiError(400, "invalid_request", str(exc)) from exc
    except NoStreamError as exc:
        raise ApiError(409, "no_stream", str(exc)) from exc
    if from_form:
        return Response(303, headers={"Location": f"{tx.endpoint_base}/_demo?sent={jti}"})
    return _json(200, {"jti": jti})


Endpoint = Callable[["SSFTransmitter", Request], Response]
# (method, path under the issuer) -> (scopes of which the bearer token needs one, or None, endpoint)
ROUTES: dict[tuple[str, str], tuple[tuple[str, ...] | None, Endpoint]] = {
    ("GET", JWKS_PATH): (None, jwks),
    ("POST", TOKEN_PATH): (None, token),
    ("GET", STREAM_PATH): (READ_SCOPES, read_streams),
    ("POST", STREAM_PATH): (WRITE_SCOPES, create_stream),
    ("PATCH", STREAM_PATH): (WRITE_SCOPES, update_stream),
    ("PUT", STREAM_PATH): (WRITE_SCOPES, update_stream),
    ("DELETE", STREAM_PATH): (WRITE_SCOPES, delete_stream),
    ("GET", STATUS_PATH): (READ_SCOPES, read_status),
    ("POST", STATUS_PATH): (WRITE_SCOPES, update_status),
    ("POST", ADD_SUBJECT_PATH): (WRITE_SCOPES, add_subject),
    ("POST", REMOVE_SUBJECT_PATH): (WRITE_SCOPES, remove_subject),
    ("POST", VERIFY_PATH): (WRITE_SCOPES, verify),
    ("POST", POLL_PREFIX): (READ_SCOPES, poll),
    ("GET", "/_demo"): (None, demo_page),
    ("POST", "/_demo/send"): (None, demo_send),
}


def dispatch(tx: "SSFTransmitter", request: Request) -> Response:
    """Route a request; `request.path` becomes the path under the issuer's path."""
    path = request.path.rstrip("/") or "/"
    if path == urlsplit(tx.well_known_url).path and request.method == "GET":
        return metadata(tx, request)
    if not path.startswith(tx.issuer_path + "/"):
        raise ApiError(404, "not_found", "no such endpoint")
    request.path = path.removeprefix(tx.issuer_path)
    route = POLL_PREFIX if request.path.startswith(POLL_PREFIX) else request.path
    if (request.method, route) not in ROUTES:
        known = any(known_route == route for _, known_route in ROUTES)
        raise ApiError(405 if known else 404, "not_found", f"no {request.method} {route}")
    scopes, endpoint = ROUTES[(request.method, route)]
    if scopes is not None:
        _authorize(tx, request, scopes)
    return endpoint(tx, request)


def handler_class(tx: "SSFTransmitter") -> type[BaseHTTPRequestHandler]:
    """A request handler bound to `tx`; every answer is `Cache-Control: no-store` (SSF)."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "SSFTestTransmitter/1.0"

        def answer(self) -> None:
            if tx.answer_delay:
                time.sleep(tx.answer_delay)
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            query = {name: values[0] for name, values in parse_qs(parts.query).items()}
            request = Request(
                self.command, parts.path, query, self.headers, self.rfile.read(length)
            )
            try:
                response = dispatch(tx, request)
            except ApiError as exc:
                default = {"error": exc.error, "error_description": exc.description}
                response = _json(exc.status, default if exc.body is None else exc.body)
                response.headers.update(exc.headers)
            self.send_response(response.status)
            for name, value in {"Cache-Control": "no-store", **response.headers}.items():
                self.send_header(name, value)
            if response.status != 204:
                self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body)
            if response.after is not None:
                response.after()

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = answer

    return Handler
