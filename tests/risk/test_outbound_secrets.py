"""Where a stored credential goes: workflow URLs (their path often is the secret) are kept
encrypted and shown masked; moving a credential to another origin needs the credential again."""

import pytest
from django.urls import reverse

from common.crypto import decrypt, encrypt
from risk.models import ConnectedApp, Workflow
from risk.services.policy_config import workflow_create

HOOK = "https://hooks.example/T0123/s3cr3t-path"


@pytest.fixture
def workflow(db):
    return workflow_create(name="Ticket", url=HOOK)


def test_a_workflow_url_is_stored_encrypted(workflow):
    stored, _secret = workflow
    row = Workflow.objects.filter(pk=stored.pk).values().get()
    assert not any("s3cr3t" in str(value) for value in row.values())
    assert decrypt(row["encrypted_url"]) == HOOK


@pytest.mark.parametrize("viewer", ["readonly_client", "admin_client"])
def test_the_workflow_list_shows_only_the_urls_origin(request, workflow, viewer):
    html = request.getfixturevalue(viewer).get(reverse("risk:workflow_list")).content.decode()
    assert "https://hooks.example/…" in html
    assert "s3cr3t" not in html
    assert "T0123" not in html


def test_the_workflow_edit_form_does_not_show_the_url(admin_client, workflow):
    stored, _secret = workflow
    html = admin_client.get(reverse("risk:workflow_edit", args=[stored.pk])).content.decode()
    assert "s3cr3t" not in html
    assert "https://hooks.example/…" in html


def test_a_readonly_admin_cannot_edit_a_workflow(readonly_client, workflow):
    stored, _secret = workflow
    edit = reverse("risk:workflow_edit", args=[stored.pk])
    assert readonly_client.get(edit).status_code == 403
    answer = readonly_client.post(edit, {"name": "x", "url": "https://hooks.example/other"})
    assert answer.status_code == 403
    assert decrypt(Workflow.objects.get().encrypted_url) == HOOK


def test_editing_a_workflow_keeps_its_url_when_none_is_given(admin_client, workflow):
    stored, _secret = workflow
    edit = reverse("risk:workflow_edit", args=[stored.pk])
    assert admin_client.post(edit, {"name": "Ticket 2", "url": ""}).status_code == 302
    changed = Workflow.objects.get()
    assert (changed.name, changed.active, decrypt(changed.encrypted_url)) == (
        "Ticket 2",
        False,
        HOOK,
    )


def test_a_new_path_on_the_same_origin_needs_no_secret(admin_client, workflow):
    stored, _secret = workflow
    edit = reverse("risk:workflow_edit", args=[stored.pk])
    data = {"name": "Ticket", "url": "https://hooks.example/T0123/new-path", "active": "on"}
    assert admin_client.post(edit, data).status_code == 302
    assert decrypt(Workflow.objects.get().encrypted_url).endswith("/new-path")


def test_moving_a_workflow_to_another_origin_needs_its_secret(admin_client, workflow):
    stored, secret = workflow
    edit = reverse("risk:workflow_edit", args=[stored.pk])
    data = {"name": "Ticket", "url": "https://elsewhere.example/hook", "active": "on"}
    refused = admin_client.post(edit, data)
    assert refused.status_code == 400
    assert "signing secret" in refused.content.decode()
    assert admin_client.post(edit, {**data, "secret": "wrong"}).status_code == 400
    assert decrypt(Workflow.objects.get().encrypted_url) == HOOK  # nothing changed
    assert admin_client.post(edit, {**data, "secret": secret}).status_code == 302
    moved = Workflow.objects.get()
    assert (decrypt(moved.encrypted_url), moved.masked_url) == (
        "https://elsewhere.example/hook",
        "https://elsewhere.example/…",
    )


def test_a_default_port_is_the_same_origin(admin_client, workflow):
    stored, _secret = workflow
    edit = reverse("risk:workflow_edit", args=[stored.pk])
    data = {"name": "Ticket", "url": "https://HOOKS.example:443/x", "active": "on"}
    assert admin_client.post(edit, data).status_code == 302
    assert (
        admin_client.post(edit, {**data, "url": "https://hooks.example:8443/x"}).status_code == 400
    )


@pytest.fixture
def app(admin_client):
    data = {"name": "Slack", "revocation_endpoint": "https://slack.example/revoke",
            "token": "s3cret-token", "active": "on"}  # fmt: skip
    assert admin_client.post(reverse("risk:connected_app_add"), data).status_code == 302
    return ConnectedApp.objects.get()


def test_moving_a_connected_app_to_another_origin_needs_its_token_again(admin_client, app):
    edit = reverse("risk:connected_app_edit", args=[app.pk])
    data = {"name": "Slack", "revocation_endpoint": "https://evil.example/revoke", "active": "on"}
    refused = admin_client.post(edit, {**data, "token": ""})
    assert refused.status_code == 400
    assert "token again" in refused.content.decode()
    assert ConnectedApp.objects.get().revocation_endpoint == "https://slack.example/revoke"
    assert admin_client.post(edit, {**data, "token": "new-token"}).status_code == 302
    moved = ConnectedApp.objects.get()
    assert (moved.revocation_endpoint, decrypt(moved.encrypted_token)) == (
        "https://evil.example/revoke",
        "new-token",
    )


def test_a_connected_apps_new_path_on_the_same_origin_keeps_its_token(admin_client, app):
    edit = reverse("risk:connected_app_edit", args=[app.pk])
    data = {"name": "Slack", "revocation_endpoint": "https://slack.example/v2/revoke",
            "active": "on", "token": ""}  # fmt: skip
    assert admin_client.post(edit, data).status_code == 302
    assert decrypt(ConnectedApp.objects.get().encrypted_token) == "s3cret-token"


@pytest.mark.django_db(transaction=True)
def test_the_migration_encrypts_existing_workflow_urls_and_back():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before = [("risk", "0003_policy_action_claimed_until")]
    after = [("risk", "0004_workflow_url_encrypted")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        old_workflow = executor.loader.project_state(before[0]).apps.get_model("risk", "Workflow")
        old_workflow.objects.create(name="Old", url=HOOK, encrypted_secret=encrypt("k"))
        executor = MigrationExecutor(connection)
        executor.migrate(after)
        migrated = executor.loader.project_state(after[0]).apps.get_model("risk", "Workflow")
        row = migrated.objects.get()
        assert (decrypt(row.encrypted_url), row.url_origin) == (HOOK, "https://hooks.example")
        executor = MigrationExecutor(connection)
        executor.migrate(before)
        assert old_workflow.objects.get().url == HOOK
    finally:
        MigrationExecutor(connection).migrate(
            MigrationExecutor(connection).loader.graph.leaf_nodes()
        )
