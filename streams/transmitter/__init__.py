"""A small but real SSF 1.0 transmitter that ships with the receiver, as a peer for tests and demos.

Why it exists: the receiver has to be exercised end to end against something that behaves like
the transmitters it will meet (protocol.md §11): SSF metadata and JWKS, the stream management API
with static-token or OAuth client-credentials authorization, push (RFC 8935) and poll (RFC 8936)
delivery, verification, and every CAEP/RISC/Okta event type, plus the field's dialects as options.
It is plain Python (stdlib HTTP server, jwcrypto, requests), with no Django and no database, so it
runs in a thread inside the test process or in the foreground as `manage.py ssf_transmitter`.

    tx = SSFTransmitter(audience="http://127.0.0.1:8000", static_token="t").start()
    ...the receiver discovers tx.well_known_url and creates its stream...
    tx.send("session-revoked", "bob@example.com")
    tx.stop()
"""

from streams.transmitter.events import EVENT_TYPES, Quirks
from streams.transmitter.state import NoStreamError, PushResult
from streams.transmitter.transmitter import SSFTransmitter

__all__ = ["EVENT_TYPES", "NoStreamError", "PushResult", "Quirks", "SSFTransmitter"]
