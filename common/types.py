"""Types the apps' services share."""

from typing import TypeAlias

from django.contrib.auth.models import User

# The admin behind a change: None for the system, or for an operator's command (which then
# names itself in `actor_name`).
Actor: TypeAlias = User | None
