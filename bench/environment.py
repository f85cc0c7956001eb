"""Databases, server processes, the SMTP sink and the machine: everything a figure runs on.

Every database is made for the run (a file in a temporary folder, or PostgreSQL databases
whose name says "bench") and migrated with the app's own command; copies for the import and
sending rounds are made from a template, so each round starts from the same state.
"""

from __future__ import annotations

import os
import platform
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SURVEYAPP = str(Path(PYTHON).with_name("surveyapp"))
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/surveyapp_bench"

# Rate limits stay on; these budgets replace the defaults because every simulated browser
# comes from the same loopback address. The limiter's own cost stays in every figure.
RAISED_LIMITS = {
    "SURVEYAPP_RATELIMIT_ENABLED": "true",
    "SURVEYAPP_PARTICIPANT_AUTOSAVE_LIMIT": "10000000 per minute",
    "SURVEYAPP_PARTICIPANT_OPEN_LINK_LIMIT": "10000000 per minute",
    "SURVEYAPP_PARTICIPANT_TOKEN_FAILURE_LIMIT": "10000000 per minute",
}


class BenchError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- databases ------------------------------------------------------------------------------

class Database:
    """One database for the run, with copies for rounds that must start from the same state."""

    def __init__(self, kind: str, url: str, folder: Path):
        self.kind, self.url, self.folder = kind, url, folder
        self.copies: list[str] = []

    @property
    def label(self) -> str:
        return "SQLite" if self.kind == "sqlite" else "PostgreSQL"

    @classmethod
    def sqlite(cls, folder: Path) -> Database:
        return cls("sqlite", f"sqlite:///{folder / 'bench.sqlite3'}", folder)

    @classmethod
    def postgres(cls, url: str, folder: Path) -> Database | None:
        """A fresh database named in ``url`` (created if missing), or None when unreachable."""
        parsed = sa.make_url(url)
        if "bench" not in (parsed.database or ""):
            raise BenchError(f"refusing to wipe {parsed.database!r}: a bench database's name must contain 'bench'")
        db = cls("postgresql", url, folder)
        try:
            db._admin(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)',
                      f'CREATE DATABASE "{parsed.database}"')
        except sa.exc.OperationalError as exc:
            print(f"PostgreSQL not reachable at {parsed.render_as_string(hide_password=True)}: "
                  f"{str(exc).splitlines()[0]}")
            return None
        return db

    def _admin(self, *statements: str) -> None:
        admin = sa.create_engine(sa.make_url(self.url).set(database="postgres"), isolation_level="AUTOCOMMIT",
                                 connect_args={"connect_timeout": 3})
        try:
            with admin.connect() as connection:
                for statement in statements:
                    connection.execute(sa.text(statement))
        finally:
            admin.dispose()

    def copy(self, suffix: str) -> Database:
        """A copy of this database as it is now (nothing may be connected to it)."""
        if self.kind == "sqlite":
            source = sa.make_url(self.url).database
            target = self.folder / f"bench-{suffix}.sqlite3"
            target.unlink(missing_ok=True)
            src, dst = sqlite3.connect(source), sqlite3.connect(target)
            try:
                src.backup(dst)  # consistent even with a WAL file beside it
            finally:
                src.close()
                dst.close()
            return Database("sqlite", f"sqlite:///{target}", self.folder)
        parsed = sa.make_url(self.url)
        name = f"{parsed.database}_{suffix}"
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
                    f'CREATE DATABASE "{name}" TEMPLATE "{parsed.database}"')
        self.copies.append(name)
        copy = Database("postgresql", parsed.set(database=name).render_as_string(hide_password=False), self.folder)
        copy.copies = self.copies  # one list for the run: copies of copies are dropped too
        return copy

    def drop_copies(self) -> None:
        if self.kind == "postgresql" and self.copies:
            self._admin(*(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' for name in self.copies))
            self.copies.clear()

    def engine(self) -> sa.Engine:
        return sa.create_engine(self.url)

    def scalar(self, sql: str):
        engine = self.engine()
        try:
            with engine.connect() as connection:
                return connection.execute(sa.text(sql)).scalar()
        finally:
            engine.dispose()

    def version(self) -> str:
        if self.kind == "sqlite":
            return f"SQLite {sqlite3.sqlite_version}"
        return "PostgreSQL " + str(self.scalar("SHOW server_version"))


# -- the app's processes ----------------------------------------------------------------------

class Run:
    """Settings shared by every process of one run: keys, folders, the raised budgets."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.secret_key, self.link_key = secrets.token_hex(32), secrets.token_hex(32)
        self.audit_key = secrets.token_hex(32)

    def env(self, db: Database, **extra: str) -> dict[str, str]:
        """The app's environment in production mode: only what a deployment would set."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("SURVEYAPP_")}
        env.update({
            "SURVEYAPP_ENV": "production",
            "SURVEYAPP_SECRET_KEY": self.secret_key,
            "SURVEYAPP_LINK_KEY": self.link_key,
            "SURVEYAPP_AUDIT_KEY": self.audit_key,
            "SURVEYAPP_AUDIT_ANCHOR_PATH": str(self.folder / "audit-anchor.log"),
            "SURVEYAPP_DATABASE_URL": db.url,
            "SURVEYAPP_TASK_QUEUE_URL": f"sqlite:///{self.folder / 'tasks.sqlite3'}",
            "SURVEYAPP_PUBLIC_URL": "http://127.0.0.1",
            "SURVEYAPP_TRUSTED_HOSTS": "127.0.0.1",
            # Plain http on loopback: the browser would not send a Secure cookie back.
            "SURVEYAPP_SESSION_COOKIE_SECURE": "false",
            **RAISED_LIMITS,
            "BENCH_DATABASE_URL": db.url,
            "PYTHONPATH": str(ROOT),
            **extra,
        })
        return env

    def log(self, name: str):
        return open(self.folder / f"{name}.log", "ab")

    def command(self, args: list[str], db: Database, what: str, **extra: str) -> str:
        with self.log(what) as log:
            done = subprocess.run(args, env=self.env(db, **extra), cwd=ROOT, stdout=subprocess.PIPE, stderr=log)
        if done.returncode:
            raise BenchError(f"{what} failed (exit {done.returncode}); see {self.folder / (what + '.log')}")
        return done.stdout.decode()

    def prepare(self, db: Database) -> None:
        """Migrate with the app's command and load the instruments, as a deployment does."""
        self.command([SURVEYAPP, "db", "upgrade"], db, "migrate")
        self.command([SURVEYAPP, "instruments", "load"], db, "instruments")

    def measured(self, args: list[str], db: Database, what: str, **extra: str) -> tuple[float, float, str]:
        """Run a child process to the end: (wall seconds, its peak RSS in MB, its output)."""
        with self.log(what) as log:
            started = time.perf_counter()
            child = subprocess.Popen(args, env=self.env(db, **extra), cwd=ROOT, stdout=subprocess.PIPE,
                                     stderr=log)
            output = child.stdout.read()
            _, status, usage = os.wait4(child.pid, 0)
            seconds = time.perf_counter() - started
            child.returncode = os.waitstatus_to_exitcode(status)
            child.stdout.close()
        if child.returncode:
            raise BenchError(f"{what} failed (exit {child.returncode}); see {self.folder / (what + '.log')}")
        return seconds, usage.ru_maxrss / 1024, output.decode()


class Server:
    """A gunicorn master (the app's ``surveyapp serve`` or a bare app), stopped by its pid."""

    def __init__(self, run: Run, db: Database, name: str, kind: str, workers: int, threads: int, **extra: str):
        self.port = free_port()
        self.name = name
        bind = f"127.0.0.1:{self.port}"
        if kind == "app":
            args = [SURVEYAPP, "serve", "--bind", bind, "--workers", str(workers), "--threads", str(threads)]
        else:
            args = [PYTHON, "-m", "bench.bare", kind, "--bind", bind, "--workers", str(workers),
                    "--threads", str(threads)]
        self.log = run.log(name)
        self.process = subprocess.Popen(args, env=run.env(db, **extra), cwd=ROOT, stdout=self.log,
                                        stderr=subprocess.STDOUT)
        self.log_path = run.folder / f"{name}.log"
        self._wait_ready(workers)

    def _wait_ready(self, workers: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"{self.name} exited with {self.process.returncode}; see {self.log_path}")
            booted = self.log_path.read_text("utf-8", "replace").count("Booting worker")
            if booted >= workers:
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                    return
                except OSError:
                    pass
            time.sleep(0.2)
        self.stop()
        raise BenchError(f"{self.name} did not start within {timeout:.0f} s; see {self.log_path}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(35)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


# -- the SMTP sink --------------------------------------------------------------------------

class Sink:
    """A local SMTP server (aiosmtpd, as tests/smtp_server.py) that accepts and discards,
    counting each recipient and the bytes received."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.recipients: Counter = Counter()
        self.bytes = 0
        self._lock = threading.Lock()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, enable_SMTPUTF8=True)

    async def handle_DATA(self, server, session, envelope):
        with self._lock:
            self.recipients.update(a.lower() for a in envelope.rcpt_tos)
            self.bytes += len(envelope.original_content or envelope.content or b"")
        return "250 2.0.0 accepted and discarded"

    def reset(self) -> tuple[Counter, int]:
        with self._lock:
            seen, size = self.recipients, self.bytes
            self.recipients, self.bytes = Counter(), 0
        return seen, size

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()


# -- the machine ----------------------------------------------------------------------------

def machine() -> list[str]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kb / 1024 / 1024:.1f} GB memory"
    except (OSError, ValueError, IndexError):
        pass
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                           capture_output=True, text=True)
    revision = commit.stdout.strip() or "unknown"
    if dirty.stdout.strip():
        revision += " with uncommitted changes"
    return [
        f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"machine: {os.cpu_count()} CPUs ({model}){memory}, {platform.system()} {platform.release()}",
        f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        f"python {platform.python_version()}, code at {revision}",
    ]


def check_catalogue() -> None:
    """The app refuses to start without the compiled Welsh catalogue (gitignored)."""
    if not any((ROOT / "translations").glob("*/LC_MESSAGES/messages.mo")):
        raise BenchError("compile the catalogues first: .venv/bin/surveyapp translations compile")


def clean_folder(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
