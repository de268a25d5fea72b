"""The `make run` shape for real: runserver on SQLite with Celery eager, as a new user runs it."""

import json
import os
import sys

import requests
from django.conf import settings

from tests.processes import ManagedProcess, run_manage
from tests.servers import free_port, wait_for_port


def test_make_run_shape_accepts_and_processes_sets_on_sqlite(tmp_path, transmitter):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CELERY_"))}
    port = free_port()
    env |= {
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "SITE_URL": f"http://127.0.0.1:{port}",
        "RECEIVER_AUDIENCE": settings.RECEIVER_AUDIENCE,
    }
    run_manage(env, "migrate", "--noinput")
    run_manage(env, "add_stream", "--name", "Acme", "--well-known-url", transmitter.well_known_url)
    server = ManagedProcess(
        "runserver", [sys.executable, "manage.py", "runserver", str(port), "--noreload"], env
    )
    try:
        wait_for_port(port, process=server.process, timeout=60)
        url = f"http://127.0.0.1:{port}/security/api/v1/security-events"
        headers = {"Content-Type": "application/secevent+jwt", "Accept": "application/json"}
        token = transmitter.make_set()
        for body in (token, token, transmitter.make_set()):
            assert requests.post(url, data=body, headers=headers, timeout=10).status_code == 202
        refused = requests.post(
            url, data=transmitter.make_set(aud="x"), headers=headers, timeout=10
        )
        assert refused.json()["err"] == "invalid_audience"
        counts = run_manage(env, "shell", "-c", (
            "import json; from events.models import SecurityEvent as S; "
            "print(json.dumps(sorted(S.objects.values_list('status', flat=True))))"
        ))  # fmt: skip
        # Stored once each (the replay too), and processed eagerly: alice is not in the directory.
        assert json.loads(counts.strip().splitlines()[-1]) == ["IGNORED", "IGNORED"]
    finally:
        server.stop()
