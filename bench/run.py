"""Every figure of issue 9 beside a bare baseline measured in the same run, in interleaved rounds.

    .venv/bin/python -m bench            # the full run (6 to 10 minutes)
    .venv/bin/python -m bench --quick    # a smoke run (about 90 seconds)

Exits non-zero when an answer was lost or duplicated, when a request got a reply it should not
have, or when an import or a send did not store or deliver exactly what it should.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from bench import bare, workloads
from bench.client import Connection, Load, drive
from bench.dashboard import dashboard
from bench.data import write_nominees
from bench.environment import (
    DEFAULT_POSTGRES,
    PYTHON,
    RAISED_LIMITS,
    SURVEYAPP,
    BenchError,
    Database,
    Run,
    Server,
    Sink,
    check_catalogue,
    clean_folder,
    machine,
)
from bench.workloads import AUTOSAVE_SECTION, Browser


@dataclass
class Settings:
    rounds: int = 3
    batch_rounds: int = 2
    seconds: float = 6.0
    warmup: float = 1.5
    connections: int = 16
    workers: int = 2
    threads: int = 4
    crowd: int = 200
    crowd_workers: int = 4
    import_rows: int = 50_000
    invitations: int = 1_000
    section: int = 4


@dataclass
class Report:
    failures: list[str] = field(default_factory=list)
    cpu_per_request: list[float] = field(default_factory=list)
    fastest: float = 0.0
    checked: list[str] = field(default_factory=list)

    def fail(self, what: str, problems: list[str]) -> None:
        for problem in problems[:20]:
            print(f"  FAIL {what}: {problem}")
        if len(problems) > 20:
            print(f"  FAIL {what}: ... and {len(problems) - 20} more")
        self.failures += [f"{what}: {p}" for p in problems]

    def loads(self, what: str, loads: list[Load]) -> None:
        unexpected = sum((load.unexpected for load in loads), start=Counter())
        self.fail(what, [f"{count} x {reply}" for reply, count in unexpected.most_common()])


def median(values):
    return statistics.median(values) if values else float("nan")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def interleaved(rounds: int, bare_round, app_round) -> tuple[list, list]:
    """Bare then app in odd rounds, app then bare in even ones (drift falls on both)."""
    bares, apps = [], []
    for r in range(rounds):
        order = [(bare_round, bares), (app_round, apps)]
        for measure, into in order if r % 2 == 0 else reversed(order):
            into.append(measure(r))
    return bares, apps


def line(label: str, bare_value: str, app_value: str, ratio: str, aim: str) -> None:
    print(f"{label:<46} bare {bare_value:>14} | surveyapp {app_value:>14} | {ratio:>12}  (aim: {aim})")


# -- 1 and 2: autosave and the section page ------------------------------------------------------

def throughput(db: Database, run: Run, s: Settings, report: Report, slug: str) -> None:
    servers = []
    try:
        servers = [Server(run, db, f"app-{db.kind}", "app", s.workers, s.threads),
                   Server(run, db, f"bare-autosave-{db.kind}", "autosave", s.workers, s.threads),
                   Server(run, db, f"bare-page-{db.kind}", "page", s.workers, s.threads,
                          BENCH_SECTION=str(s.section))]
        app, bare_save, bare_page = servers
        engine = db.engine()

        # Autosave: each connection is one participant saving one answer over and over.
        tag = f"autosave-{db.kind}"
        apps = [Browser(Connection("127.0.0.1", app.port), i, tag) for i in range(s.connections)]
        bares = [Browser(Connection("127.0.0.1", bare_save.port), i, tag) for i in range(s.connections)]
        asyncio.run(workloads.set_up(apps, slug, AUTOSAVE_SECTION))
        warm = [asyncio.run(drive(bares, workloads.bare_autosave, s.warmup)),
                asyncio.run(drive(apps, workloads.app_autosave, s.warmup))]
        bare_loads, app_loads = interleaved(
            s.rounds, lambda r: asyncio.run(drive(bares, workloads.bare_autosave, s.seconds)),
            lambda r: asyncio.run(drive(apps, workloads.app_autosave, s.seconds)))
        b, a = median([x.rate for x in bare_loads]), median([x.rate for x in app_loads])
        line(f"autosave, {db.label}", f"{b:,.0f} req/s", f"{a:,.0f} req/s", f"ratio {a / b:.2f}", ">= 0.6")
        rounds_detail(bare_loads, app_loads)
        report.cpu_per_request += [x.cpu_per_request for x in bare_loads]
        report.fastest = max(report.fastest, b)
        report.loads(f"autosave {db.label}", warm + app_loads + bare_loads)
        report.fail(f"autosave {db.label} read-back", workloads.read_back(engine, apps, bare=False))
        report.fail(f"bare upsert {db.label} read-back", workloads.read_back(engine, bares, bare=True))
        report.checked.append(f"autosave read back on {db.label}")
        print(f"  read back: {sum(x.saved for x in apps):,} saves by {len(apps)} participants and "
              f"{sum(x.saved for x in bares):,} bare upserts; stored answers checked")
        if db.kind == "sqlite":
            # The check checked: a lost save and a duplicate planted now must both be caught.
            caught = workloads.plant_faults(engine, apps, bares)
            print(f"  read-back self-check: planted faults caught: {'; '.join(caught) or 'NONE'}")
            if len(caught) < 3:
                report.fail("read-back self-check", ["a planted lost or duplicated answer went unnoticed"])

        # The section page: each connection is one consented participant reloading it.
        tag = f"page-{db.kind}"
        apps = [Browser(Connection("127.0.0.1", app.port), i, tag) for i in range(s.connections)]
        bares = [Browser(Connection("127.0.0.1", bare_page.port), i, tag) for i in range(s.connections)]
        asyncio.run(workloads.set_up(apps, slug, s.section))
        app_step = workloads.page_step(f"/survey/section/{s.section}", b'name="_participant"')
        bare_step = workloads.page_step("/page", b'name="csrf_token"')
        warm = [asyncio.run(drive(bares, bare_step, s.warmup)), asyncio.run(drive(apps, app_step, s.warmup))]
        bare_loads, app_loads = interleaved(s.rounds, lambda r: asyncio.run(drive(bares, bare_step, s.seconds)),
                                            lambda r: asyncio.run(drive(apps, app_step, s.seconds)))
        b, a = median([x.rate for x in bare_loads]), median([x.rate for x in app_loads])
        fields = len(bare.section_fields(s.section)) + 1  # and the CSRF token
        line(f"section {s.section} page GET, {db.label}", f"{b:,.0f} req/s", f"{a:,.0f} req/s",
             f"ratio {a / b:.2f}", ">= 0.8")
        print(f"  bare page: Flask-WTF form with the same {fields} fields as the app's (same types, Welsh "
              f"labels, help and choices, CSRF token), {median(bare_step.sizes) / 1024:.1f} kB; the app's page "
              f"{median(app_step.sizes) / 1024:.1f} kB")
        rounds_detail(bare_loads, app_loads)
        report.cpu_per_request += [x.cpu_per_request for x in bare_loads]
        report.fastest = max(report.fastest, b)
        report.loads(f"section page {db.label}", warm + app_loads + bare_loads)
        engine.dispose()
    finally:
        for server in servers:
            server.stop()


def rounds_detail(bare_loads: list[Load], app_loads: list[Load]) -> None:
    print("  rounds (req/s): bare " + " ".join(f"{x.rate:,.0f}" for x in bare_loads)
          + "; surveyapp " + " ".join(f"{x.rate:,.0f}" for x in app_loads))


# -- 3: a crowd of participants autosaving on PostgreSQL ------------------------------------------

def crowd(db: Database, run: Run, s: Settings, report: Report, slug: str) -> None:
    servers = []
    try:
        servers = [Server(run, db, "app-crowd", "app", s.crowd_workers, s.threads),
                   Server(run, db, "bare-crowd", "autosave", s.crowd_workers, s.threads)]
        app, bare_save = servers
        tag = "crowd"
        apps = [Browser(Connection("127.0.0.1", app.port), i, tag) for i in range(s.crowd)]
        bares = [Browser(Connection("127.0.0.1", bare_save.port), i, tag) for i in range(s.crowd)]
        started = time.perf_counter()
        asyncio.run(workloads.set_up(apps, slug, AUTOSAVE_SECTION))
        print(f"  {s.crowd} participants through the open link and consent in {time.perf_counter() - started:.1f} s")
        bare_loads, app_loads = interleaved(
            s.rounds, lambda r: asyncio.run(drive(bares, workloads.bare_autosave, s.seconds)),
            lambda r: asyncio.run(drive(apps, workloads.app_autosave, s.seconds)))
        for label, pick, aim in (("p50", 50, "-"), ("p99", 99, "< 300 ms")):
            b, a = median([x.percentile(pick) for x in bare_loads]), median([x.percentile(pick) for x in app_loads])
            line(f"{s.crowd} autosaving, {db.label}, {s.crowd_workers} workers: {label}", ms(b), ms(a),
                 f"{a / b:.1f}x", aim)
        b, a = median([x.rate for x in bare_loads]), median([x.rate for x in app_loads])
        print(f"  throughput meanwhile: bare {b:,.0f} req/s, surveyapp {a:,.0f} req/s; "
              f"p99 by round: bare {' '.join(ms(x.percentile(99)) for x in bare_loads)}; "
              f"surveyapp {' '.join(ms(x.percentile(99)) for x in app_loads)}")
        report.loads(f"crowd {db.label}", app_loads + bare_loads)
        engine = db.engine()
        problems = workloads.read_back(engine, apps, bare=False)
        report.fail(f"crowd {db.label} read-back", problems)
        report.fail(f"bare crowd {db.label} read-back", workloads.read_back(engine, bares, bare=True))
        report.checked.append(f"crowd read back on {db.label}")
        engine.dispose()
        print(f"  read back: {sum(x.saved for x in apps):,} confirmed saves by {len(apps)} participants: "
              + ("nothing lost or duplicated" if not problems else f"{len(problems)} PROBLEMS"))
    finally:
        for server in servers:
            server.stop()


# -- 4 and 5: import and sending --------------------------------------------------------------

def imports(template: Database, run: Run, s: Settings, report: Report, csv_path: Path) -> None:
    def measure(side: str, r: int) -> tuple[float, float]:
        copy = template.copy(f"import_{side}_{r}")
        if side == "app":
            args = [SURVEYAPP, "nominees", "import", str(csv_path)]
        else:
            args = [PYTHON, "-m", "bench.baseline", "import", copy.url, str(csv_path)]
        seconds, peak, _ = run.measured(args, copy, f"import-{side}-{template.kind}")
        stored = copy.scalar("SELECT count(DISTINCT email) FROM nominee")
        linked = copy.scalar("SELECT count(*) FROM nominee n JOIN participant p ON p.id = n.participant_id")
        if stored != s.import_rows or linked != s.import_rows:
            report.fail(f"import {side} {template.label}",
                        [f"{stored} distinct nominees, {linked} linked, of {s.import_rows} rows"])
        if copy.kind == "sqlite":
            Path(copy.url.removeprefix("sqlite:///")).unlink(missing_ok=True)
        return seconds, peak

    bare_runs, app_runs = interleaved(s.batch_rounds, lambda r: measure("bare", r), lambda r: measure("app", r))
    report.checked.append(f"imports counted on {template.label}")
    b, a = median([x[0] for x in bare_runs]), median([x[0] for x in app_runs])
    bm, am = median([x[1] for x in bare_runs]), median([x[1] for x in app_runs])
    line(f"import {s.import_rows:,} rows, {template.label}", f"{b:.2f} s", f"{a:.2f} s", f"{a / b:.1f}x slower",
         "within 5x")
    line("  peak memory of the importing process", f"{bm:.0f} MB", f"{am:.0f} MB", "", "< 150 MB")
    print("  rounds (s): bare " + " ".join(f"{x[0]:.2f}" for x in bare_runs)
          + "; surveyapp " + " ".join(f"{x[0]:.2f}" for x in app_runs))


def sending(template: Database, run: Run, s: Settings, report: Report, csv_path: Path, sink: Sink) -> None:
    source = template.copy("send_source")
    run.command([SURVEYAPP, "nominees", "import", str(csv_path)], source, "send-nominees")
    engine = source.engine()
    with engine.connect() as connection:
        addresses = set(connection.scalars(sa.text("SELECT lower(email) FROM nominee")))
    engine.dispose()
    smtp = {"SURVEYAPP_SMTP_HOST": "127.0.0.1", "SURVEYAPP_SMTP_PORT": str(sink.port)}

    def measure(side: str, r: int) -> tuple[float, float]:
        sink.reset()
        if side == "app":
            copy = source.copy(f"send_{r}")
            seconds, _, _ = run.measured([SURVEYAPP, "invitations", "send", "--yes"], copy, f"send-app-{template.kind}",
                                         **smtp)
        else:
            copy = None
            seconds, _, _ = run.measured([PYTHON, "-m", "bench.baseline", "send", "127.0.0.1", str(sink.port),
                                          str(s.invitations)], source, f"send-bare-{template.kind}")
        seen, size = sink.reset()
        problems = [f"{address}: {count} messages" for address, count in seen.items() if count > 1]
        if side == "app":
            problems += [f"{len(addresses - set(seen))} nominees got nothing"] if addresses - set(seen) else []
            problems += [f"{len(set(seen) - addresses)} unknown recipients"] if set(seen) - addresses else []
            if copy.kind == "sqlite":
                Path(copy.url.removeprefix("sqlite:///")).unlink(missing_ok=True)
        elif sum(seen.values()) != s.invitations:
            problems.append(f"{sum(seen.values())} of {s.invitations} arrived")
        report.fail(f"sending {side} {template.label}", problems)
        return seconds, size / max(1, sum(seen.values()))

    bare_runs, app_runs = interleaved(s.batch_rounds, lambda r: measure("bare", r), lambda r: measure("app", r))
    report.checked.append(f"sends counted on {template.label}")
    b, a = median([x[0] for x in bare_runs]), median([x[0] for x in app_runs])
    line(f"{s.invitations:,} invitations to an SMTP sink, {template.label}", f"{b:.2f} s", f"{a:.2f} s",
         f"{a / b:.1f}x slower", "within 3x")
    print(f"  average message: bare {median([x[1] for x in bare_runs]) / 1024:.1f} kB, "
          f"surveyapp {median([x[1] for x in app_runs]) / 1024:.1f} kB; each nominee got exactly one; "
          "rounds (s): bare " + " ".join(f"{x[0]:.2f}" for x in bare_runs)
          + "; surveyapp " + " ".join(f"{x[0]:.2f}" for x in app_runs))


def start_up(db: Database, run: Run) -> None:
    seconds, peak, _ = run.measured([PYTHON, "-c", "from surveyapp import create_app; create_app()"], db, "start-up")
    print(f"  (an app process starting up, included in the import and sending times: {seconds:.2f} s, "
          f"{peak:.0f} MB)")


# -- the run --------------------------------------------------------------------------------------

def settings(args) -> Settings:
    s = Settings()
    if args.quick:
        s = Settings(rounds=1, batch_rounds=1, seconds=2.0, warmup=0.5, crowd=50, import_rows=3_000, invitations=100)
    for name in ("rounds", "batch_rounds", "seconds", "connections", "workers", "threads", "crowd", "import_rows",
                 "invitations", "section"):
        if getattr(args, name) is not None:
            setattr(s, name, getattr(args, name))
    return s


def parse(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smoke run of about a minute")
    parser.add_argument("--rounds", type=int, help="interleaved rounds per figure (3)")
    parser.add_argument("--batch-rounds", type=int, help="interleaved rounds of the import and sending (2)")
    parser.add_argument("--seconds", type=float, help="length of each timed round of the web figures (6)")
    parser.add_argument("--connections", type=int, help="browsers for the autosave and page figures (16)")
    parser.add_argument("--workers", type=int, help="gunicorn workers for the autosave and page figures (2)")
    parser.add_argument("--threads", type=int, help="gunicorn threads per worker, every figure (4)")
    parser.add_argument("--crowd", type=int, help="participants autosaving at once on PostgreSQL (200)")
    parser.add_argument("--import-rows", type=int, help="rows in the import (50,000)")
    parser.add_argument("--invitations", type=int, help="invitations sent (1,000)")
    parser.add_argument("--section", type=int, help="the survey section whose page is measured (4)")
    parser.add_argument("--dashboard-samples", type=int, default=30, help="dashboard loads timed per size (30)")
    parser.add_argument("--only", choices=["web", "crowd", "import", "send", "dashboard"], action="append",
                        help="run only these figures (repeatable)")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, SQLite files)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse(argv)
    sys.stdout.reconfigure(line_buffering=True)  # each line as it is measured, even into a file
    s = settings(args)
    only = set(args.only or ["web", "crowd", "import", "send", "dashboard"])
    check_catalogue()
    folder = Path(tempfile.mkdtemp(prefix="surveyapp-bench-"))
    started = time.perf_counter()
    report = Report()
    run = Run(folder)
    databases: list[Database] = []
    try:
        for text in machine():
            print(text)
        print(f"servers: gunicorn (gthread) through 'surveyapp serve' and, for the bare baselines, the same "
              f"options from surveyapp.server; {s.workers} workers x {s.threads} threads "
              f"({s.crowd_workers} workers for the crowd)")
        print("rate limits ON, budgets raised by configuration because every browser shares one loopback "
              "address: " + ", ".join(f"{k.removeprefix('SURVEYAPP_')}={v}" for k, v in RAISED_LIMITS.items()
                                      if k.endswith("LIMIT")))
        print(f"load: {s.connections} keep-alive connections, {s.rounds} interleaved round(s) of {s.seconds:g} s "
              f"per figure; app in production mode, participants in Welsh")
        databases.append(Database.sqlite(folder))
        if not args.no_postgres:
            pg = Database.postgres(os.environ.get("SURVEYAPP_BENCH_POSTGRES_URL", DEFAULT_POSTGRES), folder)
            if pg is not None:
                databases.append(pg)
        templates = {}
        for db in databases:
            run.prepare(db)
            bare.create_bare_table(db.url)
            templates[db.kind] = db.copy("template")
            print(f"database: {db.version()}")
        slug = databases[0].scalar("SELECT slug FROM study WHERE open_link ORDER BY id")
        print()

        if "web" in only:
            for db in databases:
                throughput(db, run, s, report, slug)
        if "crowd" in only:
            pg = next((db for db in databases if db.kind == "postgresql"), None)
            if pg is None:
                print(f"{s.crowd} autosaving participants: skipped (needs PostgreSQL)")
            else:
                crowd(pg, run, s, report, slug)
        if only & {"import", "send"}:
            csv_path = write_nominees(folder / "nominees.csv", s.import_rows)
            send_path = write_nominees(folder / "invitees.csv", s.invitations, seed=10)
            if "import" in only:
                for db in databases:
                    imports(templates[db.kind], run, s, report, csv_path)
            if "send" in only:
                with Sink() as sink:
                    for db in databases:
                        sending(templates[db.kind], run, s, report, send_path, sink)
            start_up(templates[databases[0].kind], run)
        if "dashboard" in only:
            for db in databases:
                dashboard(templates[db.kind], run, report, 10 if args.quick else args.dashboard_samples, folder)
        if report.cpu_per_request:
            cpu = median(report.cpu_per_request)
            print(f"\nload generator: {cpu * 1e6:,.0f} µs of its own CPU per request, a ceiling of about "
                  f"{1 / cpu:,.0f} req/s on one core; the fastest bare baseline ran at {report.fastest:,.0f} req/s "
                  f"({report.fastest * cpu:.0%} of it)")
    except BenchError as exc:
        report.failures.append(str(exc))
        print(f"error: {exc}")
    finally:
        for db in databases + list(locals().get("templates", {}).values()):
            try:
                db.drop_copies()
            except Exception as exc:  # noqa: BLE001 (report and go on cleaning)
                print(f"could not drop the copies of {db.label}: {exc}")
        print(f"\nfinished in {time.perf_counter() - started:.0f} s; load average now "
              f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        if args.keep or report.failures:
            print(f"logs and files kept in {folder}")
        else:
            clean_folder(folder)
    if report.failures:
        print(f"FAILED: {len(report.failures)} problem(s); first: {report.failures[0]}")
        return 1
    print(f"OK: every check passed: {', '.join(report.checked) or 'nothing was run'}")
    return 0
