"""Requests that came through a reverse proxy: which forwarded headers to believe, and the
client's address.

`TRUSTED_PROXY_ADDRESSES` lists the proxies (addresses or networks) in front of the receiver.
Only a request whose peer is one of them may carry `X-Forwarded-For` and `X-Forwarded-Proto`;
from anyone else they are dropped, so a client cannot claim https or another address. Empty (the
default outside production) trusts no proxy: the peer is the client.
"""

import ipaddress
from collections.abc import Callable
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest, HttpResponse

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
FORWARDED_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO")


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)


def _parse(value: str) -> IPAddress | None:
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    # An IPv4 client of a dual-stack listener shows up as ::ffff:a.b.c.d.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: IPAddress) -> bool:
    return any(address in network for network in _networks(tuple(settings.TRUSTED_PROXY_ADDRESSES)))


def client_address(request: HttpRequest) -> str | None:
    """The client's address: the peer, or, when the peer is a trusted proxy, the right-most
    address in `X-Forwarded-For` that is not a trusted proxy (the left part is the client's own
    say, which anyone can write). An unparsable hop stops the walk at the hop before it."""
    current = _parse(request.META.get("REMOTE_ADDR") or "")
    if current is None:
        return None
    hops = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
    for hop in reversed(hops):
        if not _trusted(current):
            break
        forwarded = _parse(hop)
        if forwarded is None:
            break
        current = forwarded
    return str(current)


class TrustedProxyMiddleware:
    """Drop forwarded headers that did not come from a trusted proxy, before anything (the https
    redirect, SECURE_PROXY_SSL_HEADER, CSRF's origin check) reads them."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        peer = _parse(request.META.get("REMOTE_ADDR") or "")
        if peer is None or not _trusted(peer):
            for name in FORWARDED_HEADERS:
                request.META.pop(name, None)
        return self.get_response(request)
