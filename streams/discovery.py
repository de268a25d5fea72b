"""Discovery of a transmitter: its SSF configuration metadata and its JWKS (SSF 1.0 §7.1).

Two ways in, as in Okta's "Receive shared signals":
- a Well-known URL: the metadata must be a JSON object with `issuer` and `jwks_uri`, and its
  `issuer` must be the one the URL was derived from (SSF §7.1.1: the well-known segment is
  *inserted* between host and path, so `https://tr.example/.well-known/ssf-configuration/t1` belongs
  to the issuer `https://tr.example/t1`). A URL without a well-known segment is accepted when the
  document's issuer has the same origin; a trailing slash on either side is not a mismatch.
  The document may also name itself as the issuer (authentik's issuer is its configuration
  URL), or the admin may state the issuer to expect: for a transmitter whose fixed issuer is
  on no host it serves (Duo's example: `https://most-secure.com/`), the admin vouches for it,
  as with an Issuer + JWKS URL.
- an Issuer (any string: Okta's example is a bare host) and a JWKS URL.
Either way the JWKS is fetched and must hold at least one usable signing key (streams.keys).
"""

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from streams import fetch
from streams.keys import NoUsableKey, SigningKey, signing_keys

WELL_KNOWN_NAMES = ("ssf-configuration", "sse-configuration", "risc-configuration")
CHECK_AND_RETRY = "Check the URL and add the stream again."


class DiscoveryError(Exception):
    """The transmitter's metadata or keys could not be fetched or are not acceptable.

    `transient` is true when trying again later may succeed (unreachable, timeout, HTTP 5xx/429).
    """

    def __init__(self, message: str, *, transient: bool = False):
        super().__init__(message)
        self.transient = transient


def _is_transient(exc: fetch.FetchError) -> bool:
    if isinstance(exc, fetch.BadStatus):
        return exc.status >= 500 or exc.status == 429
    return isinstance(exc, (fetch.Unreachable, fetch.FetchTimeout))


@dataclass
class TransmitterConfig:
    """What discovery learnt: the issuer SETs must carry, where the keys are, and the keys."""

    issuer: str
    jwks_url: str
    jwks: dict[str, Any]
    keys: list[SigningKey]
    metadata: dict[str, Any] | None = None


def normalize_issuer(issuer: str) -> str:
    """The form issuers are matched in: exact, except that trailing slashes do not count."""
    return issuer.strip().rstrip("/")


def well_known_url_for_issuer(issuer: str, name: str = "ssf-configuration") -> str:
    """SSF §7.1.1: insert `/.well-known/<name>` between the host and the issuer's path."""
    parts = urlsplit(normalize_issuer(issuer))
    return urlunsplit((parts.scheme, parts.netloc, f"/.well-known/{name}{parts.path}", "", ""))


def issuer_for_well_known_url(url: str) -> str | None:
    """The issuer a well-known URL belongs to, or None when the URL has no well-known segment."""
    parts = urlsplit(url)
    for name in WELL_KNOWN_NAMES:
        prefix = f"/.well-known/{name}"
        if parts.path == prefix or parts.path.startswith(prefix + "/"):
            return urlunsplit((parts.scheme, parts.netloc, parts.path[len(prefix) :], "", ""))
    return None


def stated_issuer(well_known_url: str, issuer: str) -> str:
    """The issuer an admin had to state for this Well-known URL ("" when the URL implies it)."""
    if normalize_issuer(issuer) == normalize_issuer(well_known_url):
        return ""
    implied = issuer_for_well_known_url(well_known_url)
    if implied is not None:
        return "" if normalize_issuer(implied) == normalize_issuer(issuer) else issuer
    ours, theirs = urlsplit(well_known_url), urlsplit(issuer)
    return "" if (ours.scheme, ours.netloc) == (theirs.scheme, theirs.netloc) else issuer


def _fetch_json(url: str, what: str) -> Any:
    try:
        return fetch.fetch_json(url)
    except fetch.FetchError as exc:
        raise DiscoveryError(
            f"The {what} could not be fetched. {exc} {CHECK_AND_RETRY}",
            transient=_is_transient(exc),
        ) from exc


def fetch_jwks(jwks_url: str) -> tuple[dict[str, Any], list[SigningKey]]:
    """Fetch a JWKS and return it with its usable keys; DiscoveryError names what failed."""
    jwks = _fetch_json(jwks_url, "JWKS")
    try:
        return jwks, signing_keys(jwks)
    except NoUsableKey as exc:
        raise DiscoveryError(f"{exc} ({jwks_url}) {CHECK_AND_RETRY}") from exc


STATE_THE_ISSUER = (
    "If the transmitter's issuer is fixed and on no host it serves (Duo's example), give it as "
    "the issuer to expect."
)


def _check_issuer(metadata_issuer: str, well_known_url: str, expected_issuer: str) -> None:
    if expected_issuer:
        if normalize_issuer(metadata_issuer) != normalize_issuer(expected_issuer):
            raise DiscoveryError(
                f"Issuer mismatch: the metadata says issuer {metadata_issuer!r}, not the "
                f"{expected_issuer!r} expected. {CHECK_AND_RETRY}"
            )
        return
    if not stated_issuer(well_known_url, metadata_issuer):
        return
    implied = issuer_for_well_known_url(well_known_url)
    where = (
        f"{well_known_url} belongs to the issuer {implied!r}"
        if implied is not None
        else f"it is not on the host of {well_known_url}"
    )
    raise DiscoveryError(
        f"Issuer mismatch: the metadata says issuer {metadata_issuer!r}, but {where}. "
        f"{STATE_THE_ISSUER} {CHECK_AND_RETRY}"
    )


def discover_from_well_known_url(
    well_known_url: str, *, expected_issuer: str = ""
) -> TransmitterConfig:
    """Fetch and validate transmitter metadata and its JWKS from a Well-known URL; with
    `expected_issuer`, the document's issuer must be that one instead of the URL's."""
    metadata = _fetch_json(well_known_url, "transmitter configuration metadata")
    if not isinstance(metadata, dict):
        raise DiscoveryError(
            f"{well_known_url} did not answer with a JSON object of transmitter configuration "
            f"metadata. {CHECK_AND_RETRY}"
        )
    for name in ("issuer", "jwks_uri"):
        value = metadata.get(name)
        if not isinstance(value, str) or not value.strip():
            raise DiscoveryError(
                f"The transmitter configuration metadata has no '{name}'. {CHECK_AND_RETRY}"
            )
    _check_issuer(metadata["issuer"], well_known_url, expected_issuer.strip())
    jwks, keys = fetch_jwks(metadata["jwks_uri"])
    return TransmitterConfig(
        issuer=metadata["issuer"],
        jwks_url=metadata["jwks_uri"],
        jwks=jwks,
        keys=keys,
        metadata=metadata,
    )


def discover_from_issuer_and_jwks_url(issuer: str, jwks_url: str) -> TransmitterConfig:
    """Validate an Issuer + JWKS URL pair: the JWKS must hold a usable signing key."""
    jwks, keys = fetch_jwks(jwks_url)
    return TransmitterConfig(issuer=issuer.strip(), jwks_url=jwks_url, jwks=jwks, keys=keys)
