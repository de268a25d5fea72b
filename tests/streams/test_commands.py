"""Operator commands: add_stream, list_streams, create_admin."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command, execute_from_command_line

from common.roles import Role, user_role
from streams.models import Stream


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_add_stream_prints_the_id_alone_on_the_last_line(db, transmitter):
    out = run("add_stream", "--name", "Acme", "--well-known-url", transmitter.well_known_url)
    stream_id = out.strip().splitlines()[-1]
    assert Stream.objects.get(pk=stream_id).name == "Acme"
    assert Stream.objects.get().changes.get().actor_name == "manage.py add_stream"


def test_add_stream_by_issuer_and_jwks(db, transmitter):
    out = run("add_stream", "--name", "N", "--issuer", "https://n.example", "--jwks-url",
              transmitter.jwks_url)  # fmt: skip
    assert Stream.objects.get(pk=out.strip().splitlines()[-1]).issuer == "https://n.example"


def test_add_stream_failure_is_a_clear_error_and_saves_nothing(db, transmitter):
    transmitter.server.route("GET", "/jwks.json", json_body={"keys": []})
    with pytest.raises(CommandError, match="no usable public signing key"):
        run("add_stream", "--name", "Acme", "--well-known-url", transmitter.well_known_url)
    with pytest.raises(CommandError, match="--issuer needs --jwks-url"):
        run("add_stream", "--name", "Acme", "--issuer", "https://x.example")
    assert not Stream.objects.exists()


def test_add_stream_exits_non_zero_from_the_shell(db, transmitter):
    argv = ["manage.py", "add_stream", "--name", "", "--issuer", "x", "--jwks-url",
            transmitter.jwks_url]  # fmt: skip
    with pytest.raises(SystemExit) as caught:
        execute_from_command_line(argv)
    assert caught.value.code != 0


def test_list_streams(db, stream):
    out = run("list_streams")
    assert stream.pk in out
    assert "ACTIVE" in out
    assert "Acme MDM" in out


def test_create_admin_first_only_when_no_user_exists(db, monkeypatch):
    monkeypatch.delenv("DJANGO_SUPERUSER_PASSWORD", raising=False)
    out = run("create_admin", "--first", "--username", "boss")
    assert "First admin login: boss / " in out
    user = get_user_model().objects.get(username="boss")
    assert user_role(user) == Role.SUPER_ADMIN
    assert run("create_admin", "--first") == ""
    assert get_user_model().objects.count() == 1


def test_create_admin_read_only_names_its_role_not_first_admin(db, monkeypatch):
    monkeypatch.delenv("DJANGO_SUPERUSER_PASSWORD", raising=False)
    out = run("create_admin", "--username", "viewer", "--role", "read-only")
    assert "First admin login" not in out
    assert "Read-only admin login: viewer / " in out


def test_create_admin_read_only_with_given_password(db):
    run("create_admin", "--username", "viewer", "--password", "pw-viewer-1", "--role", "read-only")
    user = get_user_model().objects.get(username="viewer")
    assert user.check_password("pw-viewer-1")
    assert user_role(user) == Role.READ_ONLY_ADMIN
