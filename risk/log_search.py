"""The words of a System Log record that Okta's `q` searches, written once with the record.

Okta's `q` looks for every keyword, case-insensitively, anywhere in a record. An admin looking
into a person types a name, an email or a login, so the words are the actor's and every
target's id, alternateId and displayName, with the event type, the display message and the
outcome reason. They are kept lower-cased in `LogEvent.search_text`, one field value after
another separated by spaces (a keyword holds no space, so it never matches across two
values), and a pg_trgm GIN index on PostgreSQL turns each keyword's substring match into an
index lookup (bench/README.md has the measurements behind trigram over full text).
"""

from collections.abc import Iterable
from typing import Any

SEARCHED_MEMBERS = ("id", "alternateId", "displayName")
# Each value is cut here, as display_message and outcome_reason are: it bounds the index entry.
MAX_VALUE_LENGTH = 255


def log_search_text(
    *,
    event_type: str,
    display_message: str,
    outcome_reason: str,
    actor: Any,
    target: Any,
) -> str:
    """The lower-cased words `q` matches for one record; duplicates (an actor whose id is its
    alternateId) are kept once."""
    people = [actor, *(target if isinstance(target, list) else [])]
    values: list[Any] = [event_type, display_message, outcome_reason]
    values += [
        who.get(name) for who in people if isinstance(who, dict) for name in SEARCHED_MEMBERS
    ]
    return " ".join(_words(values)).lower()


def _words(values: Iterable[Any]) -> dict[str, None]:
    # PostgreSQL text holds no NUL; whitespace inside a value stays (q splits on it too).
    cleaned = (v.replace("\x00", "")[:MAX_VALUE_LENGTH] for v in values if isinstance(v, str))
    return dict.fromkeys(v for v in cleaned if v.strip())
