"""``surveyapp serve``: the app under gunicorn, as in production.

Threads in a few processes (gthread): a request waiting on the database or the mail server
holds one thread, not a whole process. Slow clients are the reverse proxy's job: nginx (or
similar) buffers requests and responses in front of gunicorn, so a client trickling bytes
never holds a worker thread (see the README). The access log never holds a personal token.
"""

from __future__ import annotations

from flask import Flask
from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from surveyapp.security import redact_path

ACCESS_LOG_FORMAT = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms rid=%({x-request-id}o)s'


class RedactingLogger(Logger):
    """Gunicorn's logger with /p/<token> replaced by /p/<token> placeholders in every atom."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        method, uri = environ.get("REQUEST_METHOD", "-"), environ.get("RAW_URI", "")
        atoms["r"] = f"{method} {redact_path(uri)} {environ.get('SERVER_PROTOCOL', '-')}"
        atoms["U"] = redact_path(atoms.get("U") or "")
        for key in ("f", "{referer}i"):
            if key in atoms and atoms[key]:
                atoms[key] = "-"  # a referrer can carry a personal link from elsewhere
        return atoms


class Server(BaseApplication):
    def __init__(self, app: Flask, options: dict):
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)
        if "control_socket_disable" in self.cfg.settings:
            # gunicorn 24+ opens a control socket at a fixed path by default; not needed here,
            # and two servers on one machine would fight over it.
            self.cfg.set("control_socket_disable", True)

    def load(self):
        return self.application


def options(config: dict, bind: str | None = None, workers: int | None = None,
            threads: int | None = None) -> dict:
    timeout = config["WORKER_TIMEOUT"]
    return {
        "bind": bind or config["BIND"],
        "workers": workers or config["WORKERS"],
        "threads": threads or config["THREADS"],
        "worker_class": "gthread",
        # A request running longer than this has its worker restarted; shutdown waits as long.
        "timeout": timeout,
        "graceful_timeout": timeout,
        # Idle keep-alive connections are closed quickly so they cannot pile up.
        "keepalive": 5,
        # Request line and headers are small here; refuse anything larger before the app.
        "limit_request_line": 8190,
        "limit_request_fields": 100,
        "limit_request_field_size": 8190,
        "accesslog": "-",
        "errorlog": "-",
        "access_log_format": ACCESS_LOG_FORMAT,
        "logger_class": RedactingLogger,
        # X-Forwarded-* is trusted only from the proxy on this machine.
        "forwarded_allow_ips": "127.0.0.1,::1",
    }


def serve(app: Flask, **overrides) -> None:
    """Refuse to start on a database behind the migrations; otherwise serve until stopped."""
    from surveyapp.extensions import db
    from surveyapp.faults import check_schema

    check_schema(app)
    with app.app_context():
        db.engine.dispose()  # no connection crosses the fork into the workers
    Server(app, options(app.config, **overrides)).run()
