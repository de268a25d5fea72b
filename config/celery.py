"""The Celery app: configured from Django settings (`CELERY_*`), tasks found in each app.

Its signals: a worker logs the way Django is configured to (LOG_FORMAT), each task's lines
carry its id and name (common.logs), and each worker keeps a heartbeat in Redis that readiness
and /metrics read (common.health).
"""

import os

from celery import Celery, signals

from common import health, logs

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

app = Celery("ssf_receiver")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

signals.setup_logging.connect(logs.worker_logging_setup)
signals.task_prerun.connect(logs.task_started)
signals.task_postrun.connect(logs.task_finished)
signals.worker_ready.connect(health.worker_ready)
signals.heartbeat_sent.connect(health.worker_heartbeat)
signals.worker_shutdown.connect(health.worker_shutdown)
