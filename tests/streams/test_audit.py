"""Stream changes reach the System Log as they are made, through the one audit writer: the
admin as actor, the stream as target, and the push secret only as "changed" or "removed"."""

import json

import pytest
from django.urls import reverse

from risk.models import LogEvent
from risk.services.system_log import stream_changes_mirror
from streams.models import StreamChange

pytestmark = pytest.mark.django_db


def test_a_stream_change_is_logged_at_once_and_the_mirror_copies_nothing_more(stream):
    record = LogEvent.objects.get(event_type="security.events.provider.add")
    assert record.stream_change_id == StreamChange.objects.get().pk
    assert record.target[0]["id"] == stream.pk
    assert record.debug_data["after"]["name"] == "Acme MDM"
    assert stream_changes_mirror() == 0


def test_rotating_and_removing_the_push_secret_is_logged_without_it(admin_client, stream):
    url = reverse("streams:stream_push_secret", args=[stream.pk])
    secret = admin_client.post(url).context["secret"]
    clear = reverse("streams:stream_push_secret_clear", args=[stream.pk])
    assert admin_client.post(clear).status_code == 302

    rotated, removed = LogEvent.objects.filter(
        event_type="security.events.provider.update"
    ).order_by("id")
    assert rotated.actor["alternateId"] == "sam"
    assert rotated.debug_data["after"] == {"pushAuthorization": "changed"}
    assert removed.debug_data["after"] == {"pushAuthorization": "removed"}
    assert secret.removeprefix("Bearer ") not in json.dumps(rotated.debug_data)
