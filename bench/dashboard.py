"""The researcher's dashboard at 33, 1,000 and 10,000 nominees, beside a bare baseline.

For each size a copy of the migrated database gets that many nominees through the app's own
importer (``surveyapp nominees import``), then progress written straight into the tables: an
invitation batch to 60% of them (one in ten of those failed), a quarter opened their link, one
in ten consented and one in twenty submitted. A researcher signs in and loads ``/researcher/``
one request at a time over one keep-alive connection to ``surveyapp serve`` (gunicorn, one
worker, one thread), so each time is the server's time for the page plus loopback (well under
a millisecond here). The bare baseline is a Flask route under the same gunicorn options that
does the dashboard's counting in the fewest lines (two GROUP BY queries) and renders a table.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import time
from datetime import UTC, datetime

import sqlalchemy as sa

from bench.client import Connection, expect, hidden
from bench.data import write_nominees
from bench.environment import SURVEYAPP, Database, Run, Server

SIZES = (33, 1_000, 10_000)
EMAIL, PASSWORD = "bench.researcher@example.org", "a-long-bench-password-123"
AIM = 0.300  # seconds of server time at 10,000 nominees (issue 10)


def seed_progress(db: Database) -> None:
    """Invitations, opened links, consents and submissions for a share of the nominees."""
    engine = db.engine()
    now = datetime.now(UTC)
    try:
        with engine.begin() as connection:
            rows = connection.execute(sa.text("SELECT id, participant_id, study_id FROM nominee ORDER BY id")).all()
            if not rows:
                return
            study_id = rows[0].study_id
            batch_id = connection.execute(sa.text(
                "INSERT INTO invitation_batch (study_id, kind, status, created_at) "
                "VALUES (:s, 'invitation', 'done', :t) RETURNING id"), {"s": study_id, "t": now}).scalar_one()
            invited = rows[: len(rows) * 6 // 10]
            connection.execute(sa.text(
                "INSERT INTO invitation_message (batch_id, nominee_id, kind, status, language, attempted_at) "
                "VALUES (:b, :n, 'invitation', :st, 'en', :t)"),
                [{"b": batch_id, "n": r.id, "st": "failed" if i % 10 == 9 else "sent", "t": now}
                 for i, r in enumerate(invited)])
            for share, values in ((4, "opened_at = :t"), (10, "status = 'consented'"),
                                  (20, "status = 'submitted', submitted_at = :t")):
                ids = [r.participant_id for i, r in enumerate(rows) if i % share == 0]
                connection.execute(sa.text(f"UPDATE participant SET {values} WHERE id = :p"),
                                   [{"p": pk, "t": now} for pk in ids])
    finally:
        engine.dispose()


def add_researcher(run: Run, db: Database) -> None:
    done = subprocess.run([SURVEYAPP, "users", "create", "--email", EMAIL, "--name", "Bench Researcher",
                           "--role", "researcher", "--language", "en", "--password-stdin"],
                          input=PASSWORD + "\n", text=True, env=run.env(db), capture_output=True)
    if done.returncode:
        raise RuntimeError(f"could not create the researcher: {done.stderr[-500:]}")


async def _timed(connection: Connection, path: str, samples: int, *, sign_in: bool) -> list[float]:
    if sign_in:
        page = expect(await connection.request("GET", "/login"), 200, what="login page").text
        expect(await connection.request("POST", "/login", {"csrf_token": hidden(page, "csrf_token"),
                                                           "email": EMAIL, "password": PASSWORD}),
               302, what="sign in")
    for _ in range(3):  # warm the worker's caches, as a page in use would be
        expect(await connection.request("GET", path), 200, what=path)
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        reply = expect(await connection.request("GET", path), 200, what=path)
        times.append(time.perf_counter() - started)
        if sign_in and b'id="status-table"' not in reply.body and b"summary" not in reply.body:
            raise RuntimeError("the dashboard did not show its counts")
    await connection.close()
    return times


def measure(server: Server, path: str, samples: int, *, sign_in: bool) -> list[float]:
    return asyncio.run(_timed(Connection("127.0.0.1", server.port), path, samples, sign_in=sign_in))


def dashboard(template: Database, run: Run, report, samples: int, csv_folder) -> None:
    for size in SIZES:
        copy = template.copy(f"dashboard_{size}")
        csv_path = write_nominees(csv_folder / f"dashboard-{size}.csv", size, seed=size)
        run.command([SURVEYAPP, "nominees", "import", str(csv_path)], copy, f"dashboard-import-{size}")
        seed_progress(copy)
        add_researcher(run, copy)
        servers = []
        try:
            servers = [Server(run, copy, f"app-dashboard-{template.kind}-{size}", "app", 1, 1),
                       Server(run, copy, f"bare-dashboard-{template.kind}-{size}", "dashboard", 1, 1)]
            app_times = measure(servers[0], "/researcher/", samples, sign_in=True)
            bare_times = measure(servers[1], "/dashboard", samples, sign_in=False)
        finally:
            for server in servers:
                server.stop()
        a, b = statistics.median(app_times), statistics.median(bare_times)
        p95 = sorted(app_times)[int(0.95 * (len(app_times) - 1))]
        aim = f"< {AIM * 1000:.0f} ms" if size == SIZES[-1] else "-"
        print(f"dashboard, {size:>6,} nominees, {template.label:<10}: median {a * 1000:6.1f} ms "
              f"(p95 {p95 * 1000:6.1f} ms) | bare {b * 1000:6.1f} ms | {a / b:5.1f}x bare  (aim: {aim})")
        if size == SIZES[-1] and a > AIM:
            print(f"  NOT MET: {a * 1000:.0f} ms at {size:,} nominees")
        report.checked.append(f"dashboard at {size:,} on {template.label}")
        if copy.kind == "sqlite":
            from pathlib import Path
            Path(copy.url.removeprefix("sqlite:///")).unlink(missing_ok=True)
