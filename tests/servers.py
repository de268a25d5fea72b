"""Real PostgreSQL and Redis servers on loopback, started from the system binaries.

Used by tests/conftest.py (one of each per test session) and by bench/ (a durable PostgreSQL, as
production runs it). Each server lives in its own temporary directory on a free port and is
removed when stopped. PostgreSQL refuses to run as root, so under root (CI) it runs as the
`postgres` user that Debian's package creates.
"""

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, *, timeout: float = 30.0, process: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"The server on port {port} exited with {process.returncode}.")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"Nothing listens on 127.0.0.1:{port} after {timeout}s.")


def _postgres_bindir() -> Path:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    if not candidates:
        raise RuntimeError("PostgreSQL is not installed (Debian: apt-get install postgresql).")
    return Path(candidates[-1]).parent


class PostgresServer:
    """A throwaway PostgreSQL cluster. `durable=False` turns fsync off (tests only, never bench)."""

    def __init__(self, *, durable: bool = False):
        self.durable = durable
        self.port = free_port()
        self.bindir = _postgres_bindir()
        self.dir = Path(tempfile.mkdtemp(prefix="ssf-pg-"))
        self.process: subprocess.Popen | None = None
        self._user: dict = {}
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)
            self._user = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}

    @property
    def datadir(self) -> Path:
        return self.dir / "data"

    def url(self, dbname: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{dbname}"

    def start(self) -> "PostgresServer":
        subprocess.run(
            [self.bindir / "initdb", "-D", self.datadir, "-U", "postgres", "--auth=trust",
             "-E", "UTF8", "--no-instructions"],
            check=True, capture_output=True, **self._user,
        )  # fmt: skip
        return self._run()

    def restart(self, *, immediate: bool = False) -> "PostgresServer":
        """Stop the server as an operator does, then start it again on the same data and port.

        Fast (SIGINT) rolls back open transactions, checkpoints and exits; immediate (SIGQUIT)
        exits at once, as after a crash, and the next start recovers from the WAL.
        """
        assert self.process is not None, "start() first"
        self.process.send_signal(signal.SIGQUIT if immediate else signal.SIGINT)
        self.process.wait(60)
        return self._run()

    def _run(self) -> "PostgresServer":
        options = ["-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.dir}",
                   "-c", "max_connections=200"]  # fmt: skip
        if not self.durable:
            options += ["-c", "fsync=off", "-c", "synchronous_commit=off",
                        "-c", "full_page_writes=off"]  # fmt: skip
        self.process = subprocess.Popen(
            [self.bindir / "postgres", "-D", self.datadir, "-p", str(self.port), *options],
            stdout=subprocess.DEVNULL, stderr=open(self.dir / "postgres.log", "ab"),  # noqa: SIM115
            **self._user,
        )  # fmt: skip
        wait_for_port(self.port, process=self.process)
        deadline = time.monotonic() + 30
        while True:
            try:
                psycopg.connect(self.url(), connect_timeout=2).close()
                return self
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: PostgreSQL's "smart" shutdown
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        shutil.rmtree(self.dir, ignore_errors=True)


class RedisServer:
    """A throwaway redis-server with persistence off; stop() and start() again keep the port."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="ssf-redis-"))
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError(
                "redis-server is not installed (Debian: apt-get install redis-server)."
            )
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.dir), "--protected-mode", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for_port(self.port, process=self.process)
        return self

    def stop(self, *, remove: bool = True) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None
        if remove:
            shutil.rmtree(self.dir, ignore_errors=True)
