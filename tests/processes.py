"""The production shape as real processes: nginx in front, gunicorn serving config.wsgi, Celery
workers.

Used by the production-shape and fault-injection tests and by bench/. Each process runs
config.settings.production against the PostgreSQL and Redis given, logs to a file, and is stopped
by `stop()` (or killed by `kill()`).
"""

import os
import signal
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.servers import wait_for_port

ROOT = Path(__file__).resolve().parent.parent
NGINX = "/usr/sbin/nginx"
NGINX_TEMPLATE = ROOT / "deploy" / "nginx" / "ssf-receiver.conf.template"


def production_env(*, database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    """Environment for config.settings.production on loopback (plain http, lab transmitters)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CELERY_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DJANGO_SECRET_KEY="test-only-" + "s" * 40,
        DJANGO_SECURE_SSL_REDIRECT="false",
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        CELERY_BROKER_URL=redis_url,
        ALLOW_INSECURE_TRANSMITTER_URLS="true",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


class ManagedProcess:
    def __init__(self, name: str, command: list[str], env: dict[str, str]):
        self.name = name
        self.log_path = Path(tempfile.mkstemp(prefix=f"ssf-{name}-", suffix=".log")[1])
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, text: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log():
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log()[-3000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} did not log {text!r}:\n{self.log()[-3000:]}")
            time.sleep(0.1)

    def kill(self) -> None:
        """kill -9 of the process and its children, as a crash or the OOM killer does."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self, timeout: float = 15.0) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        self._log.close()
        self.log_path.unlink(missing_ok=True)


def start_gunicorn(env: dict[str, str], *, port: int, workers: int = 2) -> ManagedProcess:
    server = ManagedProcess(
        "gunicorn",
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", str(workers), "--worker-class", "sync"],
        env,
    )  # fmt: skip
    wait_for_port(port, process=server.process, timeout=60)
    return server


def start_celery_worker(env: dict[str, str], *, name: str = "w1") -> ManagedProcess:
    """One `--pool solo` worker: two of these beat one prefork worker on two cores."""
    worker = ManagedProcess(
        f"celery-{name}",
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo",
         "--loglevel", "INFO", "--hostname", f"{name}@%h", "--without-gossip",
         "--without-mingle"],
        env,
    )  # fmt: skip
    worker.wait_for_log("ready.", timeout=60)
    return worker


def start_celery_beat(env: dict[str, str], *, schedule: Path) -> ManagedProcess:
    """Celery beat (exactly one per deployment), keeping its schedule state in `schedule`."""
    beat = ManagedProcess(
        "celery-beat",
        [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO",
         "--schedule", str(schedule)],
        env,
    )  # fmt: skip
    beat.wait_for_log("beat: Starting...", timeout=60)
    return beat


def run_manage(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], env=env, cwd=ROOT, capture_output=True, text=True,
        timeout=timeout, check=True,
    )  # fmt: skip
    return result.stdout


def render_nginx_site(**values: str) -> str:
    """The shipped site template with `values` for its ${SSF_...} placeholders (as envsubst)."""
    rendered = string.Template(NGINX_TEMPLATE.read_text()).safe_substitute(values)
    assert "${SSF_" not in rendered, "a placeholder of the template was left unset"
    return rendered


def start_nginx(
    directory: Path,
    *,
    http_port: int,
    https_port: int,
    upstream_port: int,
    certificate: Path,
    key: Path,
) -> ManagedProcess:
    """Debian's nginx as an ordinary process: the shipped site, included in a main
    configuration that keeps its pid, logs and buffers in `directory`, on loopback ports."""
    site = directory / "ssf-receiver.conf"
    site.write_text(render_nginx_site(
        SSF_SERVER_NAME="localhost", SSF_HTTP_LISTEN=f"127.0.0.1:{http_port}",
        SSF_HTTPS_LISTEN=f"127.0.0.1:{https_port}", SSF_TLS_CERTIFICATE=str(certificate),
        SSF_TLS_CERTIFICATE_KEY=str(key), SSF_UPSTREAM=f"127.0.0.1:{upstream_port}",
    ))  # fmt: skip
    temp = "\n".join(f"    {kind}_temp_path {directory / kind};"
                     for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))  # fmt: skip
    # Under root (CI) the workers would drop to nobody, who cannot write the buffers' directory.
    user = "user root;\n" if os.geteuid() == 0 else ""
    main = directory / "nginx.conf"
    main.write_text(
        f"{user}daemon off;\nworker_processes 1;\npid {directory / 'nginx.pid'};\n"
        f"error_log {directory / 'error.log'} info;\nevents {{ worker_connections 256; }}\n"
        f"http {{\n    access_log {directory / 'access.log'};\n{temp}\n    include {site};\n}}\n"
    )
    server = ManagedProcess(
        "nginx", [NGINX, "-p", str(directory), "-c", str(main), "-e", str(directory / "error.log")],
        os.environ.copy(),
    )  # fmt: skip
    wait_for_port(https_port, process=server.process, timeout=15)
    return server
