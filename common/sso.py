"""Console single sign-on over OpenID Connect: authorization code flow with PKCE (S256).

mozilla-django-oidc's views (common/identity_views.py) make the authorization request and keep
its state, nonce and PKCE verifier in the session, one entry per sign-in started, and check the
state on the way back. This module does the rest, where the library's backend does less than
OpenID Connect Core asks: discovery, the token request, the ID token's signature against the
IdP's JWKS and its claims (§3.1.3.7: iss, aud, azp, exp, iat, nonce), UserInfo whose `sub` must
match (§5.3.2), identities keyed by (iss, sub) (§5.7), and the claim that maps to a console role.
Every call to the IdP goes through streams.fetch (timeouts, a total deadline, a size cap).
"""

import base64
import hashlib
import json
import time
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote, urlencode

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, User
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from jwcrypto.common import JWException
from jwcrypto.jws import JWS
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from common import audit
from common.audit import ChangeRecord, admin_actor, audit_record
from common.models import SsoIdentity
from common.roles import ROLE_GROUPS, Role, user_role
from streams import fetch
from streams.keys import SIGNING_ALGORITHMS, NoUsableKey, SigningKey, signing_keys

BACKEND_PATH = "common.sso.ConsoleOidcBackend"
CLIENT_SECRET_BASIC = "client_secret_basic"  # noqa: S105 - OAuth method names, not secrets
CLIENT_SECRET_POST = "client_secret_post"  # noqa: S105
WELL_KNOWN_PATH = "/.well-known/openid-configuration"
# How far the IdP's clock may be ahead of ours (iat) or behind it (exp).
CLOCK_SKEW_SECONDS = 120
USERNAME_MAX_LENGTH = 150


class SsoError(Exception):
    """Single sign-on failed; the message is shown on the refusal page and logged."""


@dataclass(frozen=True)
class ProviderConfig:
    """The IdP endpoints this receiver talks to."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str = ""
    # client_secret_basic unless the IdP says it supports only client_secret_post.
    token_auth_method: str = CLIENT_SECRET_BASIC


def sso_enabled() -> bool:
    """Whether single sign-on is configured (an issuer and a client id)."""
    return bool(settings.SSO_ISSUER and settings.SSO_CLIENT_ID)


def _idp_request(method: str, url: str, what: str, **kwargs: Any) -> fetch.FetchedResponse:
    """One bounded call to the IdP: an operator-configured URL, so private addresses are allowed
    (an on-premises Keycloak lives on one); https, timeouts and the size cap still apply."""
    try:
        return fetch.safe_request(method, url, allow_private_addresses=True, **kwargs)
    except fetch.FetchError as exc:
        raise SsoError(f"{what} failed: {exc}") from exc


def _idp_json(response: fetch.FetchedResponse, what: str) -> dict[str, Any]:
    try:
        document = response.json()
    except fetch.NotJSON as exc:
        raise SsoError(f"{what}: the identity provider did not answer with JSON.") from exc
    if not isinstance(document, dict):
        raise SsoError(f"{what}: the identity provider's answer is not a JSON object.")
    return document


def _discover(issuer: str) -> ProviderConfig:
    url = issuer.rstrip("/") + WELL_KNOWN_PATH
    response = _idp_request("GET", url, "Discovery", headers={"Accept": "application/json"})
    if response.status != 200:
        raise SsoError(f"Discovery failed: {url} answered HTTP {response.status}.")
    document = _idp_json(response, "Discovery")
    # OpenID Connect Discovery §4.3: the document's issuer is exactly the one configured.
    if document.get("issuer") != issuer:
        raise SsoError(
            f"Discovery failed: the document's issuer {document.get('issuer')!r} is not "
            f"SSO_ISSUER {issuer!r}."
        )
    for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(document.get(name), str) or not document[name]:
            raise SsoError(f"Discovery failed: the document has no {name}.")
    methods = document.get("token_endpoint_auth_methods_supported") or [CLIENT_SECRET_BASIC]
    only_post = CLIENT_SECRET_BASIC not in methods and CLIENT_SECRET_POST in methods
    userinfo = document.get("userinfo_endpoint")
    return ProviderConfig(
        issuer=issuer,
        authorization_endpoint=document["authorization_endpoint"],
        token_endpoint=document["token_endpoint"],
        jwks_uri=document["jwks_uri"],
        userinfo_endpoint=userinfo if isinstance(userinfo, str) else "",
        token_auth_method=CLIENT_SECRET_POST if only_post else CLIENT_SECRET_BASIC,
    )


def provider_config() -> ProviderConfig:
    """The IdP's endpoints: the explicit settings, or its discovery document (cached)."""
    issuer: str = settings.SSO_ISSUER
    if (
        settings.SSO_AUTHORIZATION_ENDPOINT
        and settings.SSO_TOKEN_ENDPOINT
        and settings.SSO_JWKS_URI
    ):
        return ProviderConfig(
            issuer=issuer,
            authorization_endpoint=settings.SSO_AUTHORIZATION_ENDPOINT,
            token_endpoint=settings.SSO_TOKEN_ENDPOINT,
            jwks_uri=settings.SSO_JWKS_URI,
            userinfo_endpoint=settings.SSO_USERINFO_ENDPOINT,
        )
    key = "ssf:sso:metadata:" + hashlib.sha256(issuer.encode()).hexdigest()
    cached = cache.get(key)
    if cached is not None:
        return ProviderConfig(**cached)
    config = _discover(issuer)
    cache.set(key, asdict(config), timeout=settings.SSO_METADATA_CACHE_SECONDS)
    return config


def _jwks_keys(config: ProviderConfig, *, refresh: bool) -> list[SigningKey]:
    key = "ssf:sso:jwks:" + hashlib.sha256(config.jwks_uri.encode()).hexdigest()
    document = None if refresh else cache.get(key)
    if document is None:
        response = _idp_request("GET", config.jwks_uri, "Fetching the identity provider's JWKS",
                                headers={"Accept": "application/json"})  # fmt: skip
        if response.status != 200:
            raise SsoError(f"The identity provider's JWKS answered HTTP {response.status}.")
        document = _idp_json(response, "The identity provider's JWKS")
        cache.set(key, document, timeout=settings.SSO_METADATA_CACHE_SECONDS)
    try:
        return signing_keys(document)
    except NoUsableKey as exc:
        raise SsoError(str(exc)) from exc


def token_exchange(
    config: ProviderConfig, *, code: str, redirect_uri: str, code_verifier: str
) -> dict[str, Any]:
    """Trade the authorization code (and the PKCE verifier) for tokens at the token endpoint."""
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "code_verifier": code_verifier}  # fmt: skip
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
    client_id: str = settings.SSO_CLIENT_ID
    client_secret: str = settings.SSO_CLIENT_SECRET
    if config.token_auth_method == CLIENT_SECRET_POST:
        form.update(client_id=client_id, client_secret=client_secret)
    else:
        # RFC 6749 §2.3.1: both parts form-urlencoded before the Basic encoding.
        pair = f"{quote(client_id, safe='')}:{quote(client_secret, safe='')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    response = _idp_request("POST", config.token_endpoint, "The token request",
                            data=urlencode(form).encode(), headers=headers)  # fmt: skip
    answer = _idp_json(response, "The token request")
    if response.status != 200:
        error = str(answer.get("error", f"HTTP {response.status}"))[:100]
        raise SsoError(f"The identity provider refused the sign-in code ({error}).")
    if not isinstance(answer.get("id_token"), str):
        raise SsoError("The identity provider's token answer has no ID token.")
    return answer


def _verified_payload(config: ProviderConfig, id_token: str) -> dict[str, Any]:
    token = JWS()
    try:
        token.deserialize(id_token)
        header = token.jose_header
    except (JWException, ValueError, TypeError) as exc:
        raise SsoError("The ID token is not a signed JWT.") from exc
    alg, kid = header.get("alg"), header.get("kid")
    # No `none` and no HMAC: the ID token must be signed with one of the IdP's published keys.
    if alg not in SIGNING_ALGORITHMS:
        raise SsoError(f"The ID token's algorithm {alg!r} is not accepted.")
    if "crit" in header:
        raise SsoError("The ID token marks a header extension critical; none is understood.")
    for refresh in (False, True):  # an unknown kid: the IdP may just have rotated its keys
        keys = [k for k in _jwks_keys(config, refresh=refresh)
                if alg in k.algorithms and (kid is None or k.kid == kid)]  # fmt: skip
        if keys:
            break
    else:
        raise SsoError(f"No key in the identity provider's JWKS matches the ID token (kid {kid}).")
    token.allowed_algs = [alg]
    for key in keys:
        try:
            token.verify(key.jwk, alg=alg)
            break
        except JWException:
            continue
    else:
        raise SsoError(
            "The ID token's signature does not verify with the identity provider's keys."
        )
    try:
        payload = json.loads(token.payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SsoError("The ID token's claims are not JSON.") from exc
    if not isinstance(payload, dict):
        raise SsoError("The ID token's claims are not a JSON object.")
    return payload


def id_token_claims(config: ProviderConfig, id_token: str, *, nonce: str) -> dict[str, Any]:
    """The ID token's claims once its signature, issuer, audience, times and nonce check out."""
    claims = _verified_payload(config, id_token)
    client_id: str = settings.SSO_CLIENT_ID
    if claims.get("iss") != config.issuer:
        raise SsoError(f"The ID token's issuer {claims.get('iss')!r} is not {config.issuer!r}.")
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if client_id not in audiences:
        raise SsoError("The ID token was not issued to this receiver (aud).")
    if (len(audiences) > 1 or "azp" in claims) and claims.get("azp") != client_id:
        raise SsoError("The ID token's authorized party (azp) is not this receiver.")
    now = time.time()
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, int | float) or exp + CLOCK_SKEW_SECONDS < now:
        raise SsoError("The ID token has expired.")
    if not isinstance(iat, int | float) or iat - CLOCK_SKEW_SECONDS > now:
        raise SsoError("The ID token's issue time (iat) is missing or in the future.")
    if not nonce or claims.get("nonce") != nonce:
        raise SsoError("The ID token's nonce does not match this sign-in.")
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise SsoError("The ID token names no subject (sub).")
    return claims


def userinfo_claims(config: ProviderConfig, access_token: str, *, subject: str) -> dict[str, Any]:
    """The UserInfo claims (groups often come only from there); {} without an endpoint."""
    if not config.userinfo_endpoint or not access_token:
        return {}
    response = _idp_request("GET", config.userinfo_endpoint, "The UserInfo request",
                            headers={"Authorization": f"Bearer {access_token}",
                                     "Accept": "application/json"})  # fmt: skip
    if response.status != 200:
        raise SsoError(f"The UserInfo endpoint answered HTTP {response.status}.")
    claims = _idp_json(response, "The UserInfo request")
    # OpenID Connect Core §5.3.2: a UserInfo `sub` that differs must not be used.
    if claims.get("sub") != subject:
        raise SsoError("The UserInfo answer is about another subject than the ID token.")
    return claims


def role_for_claims(claims: dict[str, Any]) -> Role | None:
    """The console role SSO_ROLE_CLAIM maps to (Super admin first), or None."""
    value = claims.get(settings.SSO_ROLE_CLAIM)
    values = (
        {str(v) for v in value} if isinstance(value, list) else {str(value)} if value else set()
    )
    if values & set(settings.SSO_SUPER_ADMIN_VALUES):
        return Role.SUPER_ADMIN
    if values & set(settings.SSO_READ_ONLY_ADMIN_VALUES):
        return Role.READ_ONLY_ADMIN
    return None


def _new_username(claims: dict[str, Any], *, issuer: str) -> str:
    """The claimed username, or one made unique with a digest of (iss, sub) when a local or
    other SSO account already has it: an SSO sign-in never takes over an existing account."""
    raw = claims.get(settings.SSO_USERNAME_CLAIM) or claims.get("email") or claims["sub"]
    base = str(raw)[: USERNAME_MAX_LENGTH - 8]
    user_model = get_user_model()
    if not user_model.objects.filter(username=base).exists():
        return base
    digest = hashlib.sha256(f"{issuer} {claims['sub']}".encode()).hexdigest()[:6]
    return f"{base}-{digest}"


def _role_set(user: User, role: Role | None) -> None:
    """Make the user's console role exactly `role`; SSO users are never superusers, so removing
    their group at the IdP removes the role here. A role that changes is in the System Log
    (user.account.privilege.revoke / .grant), the IdP's claims its cause."""
    previous = user_role(user)
    if previous != role:
        _role_change_log(user, previous, role)
    user.__dict__.pop("_console_role", None)
    user.groups.remove(*Group.objects.filter(name__in=ROLE_GROUPS.values()))
    if role is not None:
        user.groups.add(Group.objects.get_or_create(name=ROLE_GROUPS[role])[0])
    user.is_superuser = False
    user.is_staff = role == Role.SUPER_ADMIN
    user.save(update_fields=["is_superuser", "is_staff"])


def _role_change_log(user: User, previous: Role | None, role: Role | None) -> None:
    actor, target = admin_actor(name="single sign-on"), [admin_actor(user=user)]
    before = {"role": previous.label if previous else None}
    after = {"role": role.label if role else None}
    if previous is not None:
        audit_record(ChangeRecord(
            event_type=audit.PRIVILEGE_REVOKE, actor=actor, target=target,
            debug_data={"privilegeRevoked": previous.label}, before=before, after=after,
        ))  # fmt: skip
    if role is not None:
        audit_record(ChangeRecord(
            event_type=audit.PRIVILEGE_GRANT, actor=actor, target=target,
            debug_data={"privilegeGranted": role.label}, before=before, after=after,
        ))  # fmt: skip


def sso_user_sign_in(*, issuer: str, claims: dict[str, Any]) -> User:
    """The console user for these verified claims, created on first sign-in, with the role the
    claims map to now; SsoError (after taking any role away) when they map to none.

    A second sign-in updates the same user (found by iss and sub); profile fields follow the IdP.
    """
    role = role_for_claims(claims)
    with transaction.atomic():
        identity = (
            SsoIdentity.objects.select_for_update()
            .select_related("user")
            .filter(issuer=issuer, subject=claims["sub"])
            .first()
        )
        if identity is None and role is not None:
            identity = _identity_create(issuer=issuer, claims=claims)
        if identity is not None:
            # Committed even when the sign-in is refused: a removed group removes the role.
            _role_set(identity.user, role)
            if role is not None:
                _profile_update(identity, claims)
    if identity is None or role is None:
        raise SsoError(_no_role_message(claims))
    return identity.user


def _identity_create(*, issuer: str, claims: dict[str, Any]) -> SsoIdentity:
    user = get_user_model().objects.create_user(username=_new_username(claims, issuer=issuer))
    try:
        with transaction.atomic():
            return SsoIdentity.objects.create(user=user, issuer=issuer, subject=claims["sub"])
    except IntegrityError as exc:  # a parallel first sign-in of the same account
        raise SsoError("This account is being signed in elsewhere; try again.") from exc


def _profile_update(identity: SsoIdentity, claims: dict[str, Any]) -> None:
    user = identity.user
    user.email = str(claims.get("email", user.email))[:254]
    user.first_name = str(claims.get("given_name") or claims.get("name") or user.first_name)[:150]
    user.last_name = str(claims.get("family_name", user.last_name))[:150]
    user.save(update_fields=["email", "first_name", "last_name"])
    identity.last_sign_in_at = timezone.now()
    identity.save(update_fields=["last_sign_in_at"])


def _no_role_message(claims: dict[str, Any]) -> str:
    who = claims.get(settings.SSO_USERNAME_CLAIM) or claims.get("email") or claims["sub"]
    return (
        f"{who} signed in at {settings.SSO_DISPLAY_NAME}, but their "
        f"{settings.SSO_ROLE_CLAIM!r} claim maps to no console role. Ask an administrator to "
        "add them to the Super admin or Read-only admin group at the identity provider."
    )


class ConsoleOidcBackend(OIDCAuthenticationBackend):
    """The authentication backend behind the SSO callback: verified claims in, console user out.

    On a refusal it returns None and leaves the reason on `request.sso_refusal` for the page.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Django builds every backend for every sign-in, passwords included: read nothing and
        # fetch nothing here (the library's __init__ requires its endpoint settings).
        self.UserModel = get_user_model()

    # Django's, which refuses a deactivated user's session; the library's returns any user.
    get_user = ModelBackend.get_user

    def authenticate(self, request: HttpRequest | None, **kwargs: Any) -> User | None:  # type: ignore[override]
        # Only the callback view passes exactly these; a password sign-in with ?code= in its
        # URL must not start a token exchange.
        if request is None or set(kwargs) != {"nonce", "code_verifier"} or not sso_enabled():
            return None
        code = request.GET.get("code", "")
        if not code:
            return None
        try:
            config = provider_config()
            tokens = token_exchange(
                config,
                code=code,
                redirect_uri=request.build_absolute_uri(reverse("identity:sso_callback")),
                code_verifier=kwargs["code_verifier"] or "",
            )
            claims = id_token_claims(config, tokens["id_token"], nonce=kwargs["nonce"] or "")
            extra = userinfo_claims(config, str(tokens.get("access_token", "")),
                                    subject=claims["sub"])  # fmt: skip
            return sso_user_sign_in(
                issuer=config.issuer, claims={**claims, **_userinfo_only(extra)}
            )
        except SsoError as exc:
            request.sso_refusal = str(exc)  # type: ignore[attr-defined]
            return None


def _userinfo_only(extra: dict[str, Any]) -> dict[str, Any]:
    """UserInfo's answer wins for the profile and role claims (it is fresher than the token);
    the ID token's protocol claims (iss, aud, sub, nonce...) are never replaced."""
    names = {settings.SSO_ROLE_CLAIM, settings.SSO_USERNAME_CLAIM, "email", "name",
             "given_name", "family_name"}  # fmt: skip
    return {name: extra[name] for name in names if name in extra}
