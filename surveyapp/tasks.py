"""The task queue: long jobs started from the web run in a worker, never in a request.

Huey stores tasks in SQLite in the instance folder by default, or in Redis when
TASK_QUEUE_URL is ``redis://...``. ``surveyapp worker`` runs the consumer.
"""

from __future__ import annotations

from flask import Flask, current_app
from huey import RedisHuey, SqliteHuey


def make_huey(app: Flask):
    url = app.config["TASK_QUEUE_URL"]
    name = f"surveyapp-{app.config.get('ENV', 'production')}"
    if url.startswith("redis://"):
        huey = RedisHuey(name, url=url)
    elif url.startswith("sqlite:///"):
        huey = SqliteHuey(name, filename=url[len("sqlite:///"):])
    else:
        raise ValueError(f"TASK_QUEUE_URL must start with sqlite:/// or redis://, not {url!r}")
    @huey.task(name="send_batch")
    def send_batch(batch_id: int) -> None:
        from surveyapp.invitations.services import BatchBusy, run_batch

        with app.app_context():
            try:
                run_batch(batch_id)
            except BatchBusy:
                pass  # another sender has it; it will finish the batch

    @huey.task(name="import_nominees")
    def import_nominees(job_id: int) -> None:
        from surveyapp.nominees.services import run_import

        with app.app_context():
            key = progress_key("nominee-import", job_id)
            try:
                run_import(job_id, app.config["LINK_KEY"], progress=lambda rows: huey.put(key, rows))
            except Exception:  # recorded on the job (failed, nothing added); the worker goes on
                app.logger.exception("nominee import %s failed", job_id)

    huey.surveyapp_tasks = {"send_batch": send_batch, "import_nominees": import_nominees}
    return huey


def get_huey(app: Flask | None = None):
    """The app's Huey, made on first use (its SQLite file is opened then, not at start-up)."""
    app = app or current_app._get_current_object()
    if app.extensions.get("huey") is None:
        app.extensions["huey"] = make_huey(app)
    return app.extensions["huey"]


def enqueue(task_name: str, *args) -> None:
    get_huey().surveyapp_tasks[task_name](*args)


def progress_key(kind: str, job_id: int) -> str:
    return f"{kind}:{job_id}"


def read_progress(kind: str, job_id: int) -> int | None:
    """What a running task last reported (kept in the queue's own store, not the app's
    database: the task's work is one open transaction there, which a progress write on
    another connection would wait for, on SQLite)."""
    return get_huey().get(progress_key(kind, job_id), peek=True)
