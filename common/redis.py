"""One Redis client per process for the operator's plumbing: metrics, health, heartbeats.

Short timeouts: a probe or a scrape must answer within a second or two, and a counter must
never hold up a request because Redis is slow.
"""

from django.conf import settings
from redis import Redis

_client: Redis | None = None


def redis_client() -> Redis:
    """The process's client for REDIS_URL (connections are made lazily and pooled)."""
    global _client
    if _client is None:
        _client = Redis.from_url(settings.REDIS_URL, socket_connect_timeout=0.5, socket_timeout=1.0)
    return _client
