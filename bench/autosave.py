"""Autosave throughput as a ratio to a bare Flask JSON route, measured in one run."""

from __future__ import annotations

import argparse
import os
import re
import statistics
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from http.cookiejar import CookieJar
from pathlib import Path

from flask import Flask, jsonify
from werkzeug.serving import make_server

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
PAGE = re.compile(r'name="_participant" value="([^"]+)"')


def serve(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


def bare_app() -> Flask:
    app = Flask("bare")

    @app.post("/save")
    def save():
        return jsonify(status="saved", revision=1)

    return app


def real_app(tmp: Path):
    from flask_migrate import upgrade

    from surveyapp import create_app
    from surveyapp.config import INSTRUMENTS_DIR
    from surveyapp.db import db
    from surveyapp.instruments.loader import read_catalogue
    from surveyapp.instruments.services import load_catalogue

    url = os.environ.get("SURVEYAPP_BENCH_DATABASE_URL") or f"sqlite:///{tmp / 'bench.sqlite3'}"
    # Rate limits off: every request comes from one address here, and the limits are not
    # what is measured (they are tested in tests/participant/test_links_and_limits.py).
    app = create_app({"ENV": "testing", "DATABASE_URL": url, "TASK_QUEUE_URL": f"sqlite:///{tmp / 'q.sqlite3'}",
                      "RATELIMIT_ENABLED": False})
    with app.app_context():
        upgrade()
        load_catalogue(read_catalogue(INSTRUMENTS_DIR))
        db.session.commit()
    return app


def participant(base: str, study, consent_items):
    """A consented participant, reached as a browser would: (opener, autosave URL, CSRF, state)."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    page = opener.open(f"{base}/s/{study}").read().decode()
    data = urllib.parse.urlencode({"csrf_token": CSRF.search(page).group(1), "language": "cy"}).encode()
    opener.open(f"{base}/s/{study}", data)  # the participant is now this browser's session
    page = opener.open(f"{base}/survey/consent").read().decode()
    form = {"csrf_token": CSRF.search(page).group(1), "_participant": PAGE.search(page).group(1),
            **{f"item_{i}": "y" for i in consent_items}}
    opener.open(f"{base}/survey/consent", urllib.parse.urlencode(form).encode())
    page = opener.open(f"{base}/survey/section/2").read().decode()
    state = {"revision": 0, "page": PAGE.search(page).group(1)}
    return opener, f"{base}/survey/section/2/autosave", CSRF.search(page).group(1), state


def hammer(clients, requests: int, threads: int) -> float:
    """Requests per second: each client saves growing text with the revision it got back."""
    per_client = requests // len(clients)

    def run(client):
        opener, url, csrf, state = client
        revision = state["revision"]  # carried across rounds: a stale revision is refused
        for i in range(per_client):
            body = urllib.parse.urlencode({"csrf_token": csrf, "_participant": state.get("page", ""),
                                           "_question": "aims", "_rev_aims": revision,
                                           "aims": "Testun ŵ ŷ " * (i + 1)}).encode()
            try:
                reply = opener.open(url, body).read()
            except urllib.error.HTTPError as exc:
                raise SystemExit(f"autosave refused: {exc.code} {exc.read()[:200]!r}") from exc
            revision = int(re.search(rb'"revision":\s*(\d+)', reply).group(1))
        state["revision"] = revision

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(run, clients))
    return per_client * len(clients) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = real_app(Path(tmp))
        with app.app_context():
            from surveyapp.studies.models import Study

            study = app.extensions["sqlalchemy"].session.scalars(
                app.extensions["sqlalchemy"].select(Study)).first()
            items = [i.id for i in study.consent_form.as_consent_form().items]
            slug = study.slug
        real_server, real_base = serve(app)
        bare_server, bare_base = serve(bare_app())
        clients = [participant(real_base, slug, items) for _ in range(args.threads)]
        bare_clients = [(urllib.request.build_opener(), f"{bare_base}/save", "-", {"revision": 0})
                        for _ in range(args.threads)]
        real, bare = [], []
        for _ in range(args.rounds):
            bare.append(hammer(bare_clients, args.requests, args.threads))
            real.append(hammer(clients, args.requests, args.threads))
        real_server.shutdown()
        bare_server.shutdown()
    r, b = statistics.median(real), statistics.median(bare)
    print(f"bare Flask JSON route: {b:,.0f} requests/s (median of {args.rounds})")
    print(f"autosave (consent gate, revision check, commit): {r:,.0f} saves/s")
    print(f"ratio autosave / bare: {r / b:.2f}")


if __name__ == "__main__":
    main()
