"""How the management APIs of transmitters in the field differ from SSF 1.0: dialects of the test
transmitter, so the receiver can be tried against their shapes without their code.

Facts from protocol.md §12 (observed from the real code run unchanged on loopback):
- solarssk/ssf-transmitter (FastAPI, pydantic `extra="forbid"`): create requires `aud` and
  `delivery`, refuses any member but `aud`, `delivery`, `events_requested`, `status` (so
  `description`), and unknown event types, with 422 `{"detail": [...]}`; pushes its verification
  SET before answering the create, and undoes the stream (502) unless that push gets a 2xx;
  answers without `iss`, and with the legacy RISC push URI whatever it was asked for.
- authentik's SSF provider (DRF): issuer = its own configuration URL, only the legacy RISC push
  URI, create requires `aud` (a list) and `format`, unknown event types are 400 field errors;
  it queues its verification SET during the create; PyJWT signs with `typ: JWT`. Its metadata
  has no status, subject or verification endpoint.
- Duo's example transmitter (2021 SSE draft): `/.well-known/sse-configuration` with a fixed
  issuer whatever host serves it, legacy RISC delivery URIs only, create answered 200 with a
  configuration that has no `stream_id` (one stream per receiver, so no call names one), ES256,
  verification SETs under the SSE URI with `{state}` and no subject at all.

Only the create call follows a dialect's rules; the other calls stay SSF 1.0.
"""

from dataclasses import dataclass, field
from typing import Any

from streams.transmitter.events import SSE_VERIFICATION, VERIFICATION, Quirks
from streams.transmitter.state import LEGACY_METHODS, POLL, PUSH, RISC_POLL, RISC_PUSH, ApiError
from streams.vocabulary import CAEP

ALL_ENDPOINTS = (
    "configuration_endpoint",
    "status_endpoint",
    "add_subject_endpoint",
    "remove_subject_endpoint",
    "verification_endpoint",
)


@dataclass(frozen=True)
class Dialect:
    """One transmitter's ways; the defaults are SSF 1.0 (the shipped transmitter as it is)."""

    name: str = "ssf"
    well_known_name: str = "ssf-configuration"
    fixed_issuer: str = ""  # Duo: the same issuer whatever host serves the metadata
    issuer_is_metadata_url: bool = False  # authentik
    spec_version: str | None = "1_0"
    endpoints: tuple[str, ...] = ALL_ENDPOINTS
    extra_metadata: dict[str, Any] = field(default_factory=dict)
    delivery_methods: tuple[str, ...] = (PUSH, POLL)  # listed, and the only ones accepted
    answers_legacy_method: bool = False  # configurations name the RISC delivery URIs
    required_members: tuple[str, ...] = ()
    allowed_members: tuple[str, ...] | None = None  # None: unknown members are ignored
    refuse_unknown_events: bool = False
    error_style: str = "oauth"  # or "fastapi" (422 detail list) or "drf" (400 field map)
    verify_on_create: bool = False  # push a verification SET before answering the create
    undo_unless_verified: bool = False  # and delete the stream unless that push got a 2xx
    create_status: int = 201
    config_has_stream_id: bool = True
    config_has_iss: bool = True
    verification_event: str = VERIFICATION
    quirks: Quirks = field(default_factory=Quirks)  # applied to every SET it sends
    verification_quirks: Quirks = field(default_factory=Quirks)
    events_supported: tuple[str, ...] | None = None
    signing_alg: str = "RS256"

    @property
    def single_stream(self) -> bool:
        """No stream_id anywhere: the receiver's one stream is meant (2021 drafts)."""
        return not self.config_has_stream_id

    def check_create(self, body: dict[str, Any], supported: list[str]) -> None:
        """Refuse a create body as this transmitter would, naming every problem at once."""
        problems: list[tuple[str, str, Any]] = [
            ("missing", name, None) for name in self.required_members if name not in body
        ]
        if self.allowed_members is not None:
            problems += [("forbidden", name, body[name])
                         for name in body if name not in self.allowed_members]  # fmt: skip
        requested = body.get("events_requested")
        if self.refuse_unknown_events and isinstance(requested, list):
            refused = [uri for uri in requested if uri not in supported]
            if refused:
                problems.append(("events", "events_requested", (requested, refused, supported)))
        delivery = body.get("delivery")
        method = delivery.get("method") if isinstance(delivery, dict) else None
        if method is not None and method not in self.delivery_methods:
            problems.append(("method", "method", method))
        if problems:
            raise self._refusal(problems, body)

    def error(self, status: int, description: str) -> ApiError:
        """A plain refusal (not about a member) in this transmitter's error shape."""
        body = {"detail": description} if self.error_style in ("fastapi", "drf") else None
        return ApiError(status, "invalid_request", description, body=body)

    def _refusal(self, problems: list[tuple[str, str, Any]], body: dict[str, Any]) -> ApiError:
        if self.error_style == "fastapi":
            return ApiError(422, "invalid_request", "validation failed",
                            body={"detail": [_fastapi(p, body) for p in problems]})  # fmt: skip
        if self.error_style == "drf":
            fields: dict[str, Any] = {}
            for problem in problems:
                fields.update(_drf(problem))
            return ApiError(400, "invalid_request", "invalid stream", body=fields)
        description = "; ".join(f"{kind} {name}" for kind, name, _value in problems)
        return ApiError(400, "invalid_request", description)

    def shaped(self, config: dict[str, Any]) -> dict[str, Any]:
        """A stream configuration as this transmitter answers it."""
        config = dict(config)
        if not self.config_has_stream_id:
            config.pop("stream_id", None)
        if not self.config_has_iss:
            config.pop("iss", None)
        if self.answers_legacy_method:
            legacy = {standard: uri for uri, standard in LEGACY_METHODS.items()}
            delivery = dict(config["delivery"])
            delivery["method"] = legacy.get(delivery["method"], delivery["method"])
            config["delivery"] = delivery
        return config


def _fastapi(problem: tuple[str, str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """One pydantic v2 error as FastAPI lists it (its "input" echoes the request)."""
    kind, name, value = problem
    if kind == "missing":
        return {"type": "missing", "loc": ["body", name], "msg": "Field required", "input": body}
    if kind == "forbidden":
        message = "Extra inputs are not permitted"
        return {"type": "extra_forbidden", "loc": ["body", name], "msg": message, "input": value}
    if kind == "events":
        requested, refused, supported = value
        message = f"Unsupported event URI(s): {refused}. Supported: {sorted(supported)}"
        return {
            "type": "value_error",
            "loc": ["body", "events_requested"],
            "msg": f"Value error, {message}",
            "input": requested,
            "ctx": {"error": {}},
        }
    message = f"Value error, Unsupported delivery method: {value!r}"
    return {"type": "value_error", "loc": ["body", "delivery", "method"], "msg": message,
            "input": value}  # fmt: skip


def _drf(problem: tuple[str, str, Any]) -> dict[str, Any]:
    """One DRF serializer error, keyed by field (members DRF does not know are ignored)."""
    kind, name, value = problem
    if kind == "missing":
        return {name: ["This field is required."]}
    if kind == "events":
        requested, refused, _supported = value
        invalid = {str(i): [f'"{uri}" is not a valid choice.']
                   for i, uri in enumerate(requested) if uri in refused}  # fmt: skip
        return {"events_requested": invalid}
    if kind == "method":
        return {"delivery": {"method": [f'"{value}" is not a valid choice.']}}
    return {}


SSF_1_0 = Dialect()
SOLARSSK = Dialect(
    name="solarssk",
    endpoints=ALL_ENDPOINTS,
    extra_metadata={"authorization_schemes": [{"spec_urn": "urn:ietf:rfc:6750"}]},
    delivery_methods=(PUSH, RISC_PUSH),
    answers_legacy_method=True,
    required_members=("aud", "delivery"),
    allowed_members=("aud", "delivery", "events_requested", "status"),
    refuse_unknown_events=True,
    error_style="fastapi",
    verify_on_create=True,
    undo_unless_verified=True,
    config_has_iss=False,
    events_supported=(VERIFICATION, CAEP + "session-revoked", CAEP + "credential-change"),
)
AUTHENTIK = Dialect(
    name="authentik",
    issuer_is_metadata_url=True,
    spec_version="1_0-ID2",
    endpoints=("configuration_endpoint",),
    delivery_methods=(RISC_PUSH,),
    answers_legacy_method=True,
    required_members=("aud", "format"),
    refuse_unknown_events=True,
    error_style="drf",
    verify_on_create=True,
    quirks=Quirks(legacy=True, jwt_typ=True),
    verification_quirks=Quirks(jwt_typ=True),
    events_supported=(CAEP + "session-revoked", CAEP + "credential-change", VERIFICATION),
)
DUO_2021 = Dialect(
    name="duo",
    well_known_name="sse-configuration",
    fixed_issuer="https://most-secure.com/",
    spec_version=None,
    extra_metadata={"critical_subject_members": ["user"]},
    delivery_methods=(RISC_PUSH, RISC_POLL),
    answers_legacy_method=True,
    create_status=200,
    config_has_stream_id=False,
    verification_event=SSE_VERIFICATION,
    quirks=Quirks(legacy=True),
    verification_quirks=Quirks(no_subject=True),
    signing_alg="ES256",
)
DIALECTS = {d.name: d for d in (SSF_1_0, SOLARSSK, AUTHENTIK, DUO_2021)}
