"""A real PostgreSQL server for the tests: Debian's packages, a temporary data directory, 127.0.0.1 and a free port.

As root the server runs as the `postgres` user (PostgreSQL refuses root); otherwise as
the user running the tests. Each test gets a database of its own, owned by a role
that is not a superuser (as an operator would set it up), with a password.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path


class Unavailable(Exception):
    """PostgreSQL cannot be run here: the tests that need it are skipped with this reason."""


def server_binaries() -> Path | None:
    """The newest installed PostgreSQL's bin folder (Debian: /usr/lib/postgresql/<version>/bin)."""
    root = Path("/usr/lib/postgresql")
    found = sorted((p for p in root.glob("*/bin") if (p / "initdb").exists()),
                   key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0) if root.exists() else []
    return found[-1] if found else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    """initdb in a temporary folder, `postgres` started on 127.0.0.1, stopped and deleted by stop()."""

    def __init__(self, fsync: bool = False) -> None:
        self.bin = server_binaries()
        if self.bin is None:
            raise Unavailable("PostgreSQL is not installed (apt-get install postgresql; "
                              "`./run test` installs it when run as root)")
        self.as_root = os.geteuid() == 0
        self.fsync = fsync
        self.port = free_port()
        self.admin_password = secrets.token_urlsafe(12)
        self.password = secrets.token_urlsafe(12)
        self.folder = Path(tempfile.mkdtemp(prefix="bot-pg-"))
        self.data = self.folder / "data"
        self.process: subprocess.Popen | None = None
        self._databases = 0

    def _command(self, *args: str) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *args] if self.as_root else list(args)

    def start(self) -> "PostgresServer":
        try:
            pwfile = self.folder / "pw"
            pwfile.write_text(self.admin_password)
            if self.as_root:
                shutil.chown(self.folder, "postgres")
                shutil.chown(pwfile, "postgres")
            init = subprocess.run(self._command(str(self.bin / "initdb"), "-D", str(self.data), "-U", "admin",
                                                "--auth=scram-sha-256", f"--pwfile={pwfile}", "-E", "UTF8",
                                                "--locale=C", "--no-sync"),
                                  capture_output=True, text=True, timeout=120)
            if init.returncode != 0:
                raise Unavailable(f"initdb failed: {init.stderr.strip()[-300:]}")
            log = open(self.folder / "server.log", "ab")
            if self.as_root:
                shutil.chown(self.folder / "server.log", "postgres")
            self.process = subprocess.Popen(
                self._command(str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port),
                              "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.folder}",
                              "-c", f"fsync={'on' if self.fsync else 'off'}", "-c", "max_connections=200",
                              "-c", "shared_buffers=64MB"),
                stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
            log.close()
            self._wait_ready()
            self.admin(f"CREATE ROLE bot LOGIN PASSWORD '{self.password}'")
        except Unavailable:
            self.stop()
            raise
        except (OSError, subprocess.SubprocessError) as exc:
            self.stop()
            raise Unavailable(f"PostgreSQL could not be started: {exc}") from None
        return self

    def _wait_ready(self, timeout: float = 60.0) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                tail = (self.folder / "server.log").read_text(errors="replace")[-500:]
                raise Unavailable(f"postgres exited at start: {tail.strip()}")
            try:
                psycopg.connect(self.admin_url(), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise Unavailable("postgres did not accept connections within 60 s") from None
                time.sleep(0.1)

    def admin_url(self, database: str = "postgres") -> str:
        return f"postgresql://admin:{self.admin_password}@127.0.0.1:{self.port}/{database}"

    def url(self, database: str) -> str:
        """The URL the bot is given: the `bot` role, with its password."""
        return f"postgresql://bot:{self.password}@127.0.0.1:{self.port}/{database}"

    def admin(self, sql: str, *params, database: str = "postgres") -> list[tuple]:
        import psycopg

        with psycopg.connect(self.admin_url(database), autocommit=True) as conn:
            cursor = conn.execute(sql, params or None)
            return cursor.fetchall() if cursor.description else []

    def new_database(self) -> str:
        """A fresh database owned by the `bot` role; its URL."""
        self._databases += 1
        name = f"t{self._databases}_{secrets.token_hex(3)}"
        self.admin(f"CREATE DATABASE {name} OWNER bot")
        return self.url(name)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)  # "fast" shutdown: sessions ended, no wait for clients
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        shutil.rmtree(self.folder, ignore_errors=True)


def database_name(url: str) -> str:
    return url.rsplit("/", 1)[1]
