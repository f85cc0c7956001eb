"""The bare baselines served over HTTP, under the same gunicorn settings as ``surveyapp serve``.

- ``autosave``: a Flask route that upserts one row (Flask + SQLAlchemy Core, one statement,
  one commit) into a table of its own in the same database as the app, and answers JSON.
- ``dashboard``: nominees counted by status and area in two GROUP BY queries, as a table.
- ``page``: a Flask-WTF form with the same fields as the app's section page (same types, the
  same Welsh labels and help, a CSRF token in the session), rendered by a minimal template.

Run as ``python -m bench.bare autosave|page --bind HOST:PORT --workers N --threads N``; the
database URL comes from ``BENCH_DATABASE_URL`` and the section from ``BENCH_SECTION``.
"""

from __future__ import annotations

import argparse
import os
import secrets
from pathlib import Path

import sqlalchemy as sa
import yaml
from flask import Flask, jsonify, request
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectMultipleField, StringField, TextAreaField
from wtforms.widgets import CheckboxInput, ListWidget

BARE_TABLE = "bench_bare_answer"
INSTRUMENTS = Path(__file__).resolve().parent.parent / "instruments"


# -- the upsert ----------------------------------------------------------------------------

def bare_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(BARE_TABLE, metadata,
                    sa.Column("key", sa.String(100), primary_key=True),
                    sa.Column("value", sa.Text, nullable=False),
                    sa.Column("revision", sa.Integer, nullable=False))


def web_engine(url: str) -> sa.Engine:
    """An engine configured as a web app's should be: SQLite in WAL mode with
    synchronous=NORMAL, a busy timeout and foreign keys on every connection."""
    engine = sa.create_engine(url)
    if engine.dialect.name == "sqlite":
        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, record):
            cursor = dbapi_connection.cursor()
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=5000", "foreign_keys=ON"):
                cursor.execute(f"PRAGMA {pragma}")
            cursor.close()
    return engine


def upsert_app(url: str) -> Flask:
    app = Flask("bare_autosave")
    engine = web_engine(url)
    table = bare_table(sa.MetaData())
    if engine.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        from sqlalchemy.dialects.postgresql import insert
    statement = insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.key],
        set_={"value": statement.excluded.value, "revision": table.c.revision + 1},
    ).returning(table.c.revision)

    @app.post("/save")
    def save():
        with engine.begin() as connection:
            revision = connection.execute(statement, {"key": request.form["key"], "value": request.form["text"],
                                                      "revision": 1}).scalar_one()
        return jsonify(status="saved", revision=revision)

    return app


def create_bare_table(url: str) -> None:
    engine = web_engine(url)
    metadata = sa.MetaData()
    bare_table(metadata)
    metadata.create_all(engine)
    engine.dispose()


# -- the page ------------------------------------------------------------------------------

class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def survey_file(study_file: Path | None = None) -> Path:
    """The survey version the (first) study uses, from the instrument files."""
    study_file = study_file or sorted((INSTRUMENTS / "studies").glob("*.yaml"))[0]
    survey = yaml.safe_load(study_file.read_text("utf-8"))["survey"]
    return INSTRUMENTS / survey["key"] / f"{survey['version']}.yaml"


def shown_questions(section: int) -> list[dict]:
    """The questions a new participant sees on the section page (no conditional ones)."""
    sections = yaml.safe_load(survey_file().read_text("utf-8"))["sections"]
    return [q for q in sections[section - 1]["questions"] if not q.get("show_if")]


def _text(value, locale: str = "cy") -> str:
    return value.get(locale) or value.get("en", "") if isinstance(value, dict) else str(value or "")


def section_fields(section: int) -> dict:
    """WTForms fields equivalent to the app's for the shown questions: same types, labels, help
    and choices (a multiple choice with "other" gets its text box too)."""
    fields = {}
    for q in shown_questions(section):
        label, help_text = _text(q.get("text")), _text(q.get("help"))
        choices = [(o["code"], _text(o["label"])) for o in q.get("options", [])]
        kind = q["type"]
        if kind == "long_text":
            fields[q["key"]] = TextAreaField(label, description=help_text)
        elif kind in ("short_text", "integer", "decimal"):
            fields[q["key"]] = StringField(label, description=help_text)
        elif kind == "single_choice":
            fields[q["key"]] = RadioField(label, choices=choices, validate_choice=False, description=help_text)
        else:
            if q.get("other"):
                choices.append(("_other", "Arall, nodwch"))
            fields[q["key"]] = MultiCheckboxField(label, choices=choices, validate_choice=False,
                                                  description=help_text)
            if q.get("other"):
                fields[q["key"] + "__other"] = StringField("Nodwch beth arall")
    return fields


PAGE = """<!doctype html>
<html lang="cy"><head><meta charset="utf-8"><title>Adran {{ number }}</title></head>
<body><main><h1>Adran {{ number }}</h1>
<form method="post" novalidate>{{ form.csrf_token }}
{% for field in form if field.name != "csrf_token" %}
<div class="question"><label for="{{ field.id }}">{{ field.label.text }}</label>
{% if field.description %}<p class="hint" id="{{ field.id }}-hint">{{ field.description }}</p>{% endif %}
{{ field(**{"aria-describedby": field.id ~ "-hint"}) }}</div>
{% endfor %}
<button type="submit">Cadw a pharhau</button></form></main></body></html>"""


def page_app(section: int) -> Flask:
    app = Flask("bare_page")
    app.config["SECRET_KEY"] = secrets.token_hex(32)
    form_class = type("BarePageForm", (FlaskForm,), section_fields(section))
    template = app.jinja_env.from_string(PAGE)  # compiled once, as a template file would be

    @app.get("/page")
    def page():
        return template.render(form=form_class(), number=section)

    return app


# -- the dashboard ---------------------------------------------------------------------------

DASHBOARD = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Progress</title></head>
<body><main><h1>Progress</h1><table>{% for status, n in statuses %}<tr><th>{{ status }}</th><td>{{ n }}</td></tr>
{% endfor %}</table><table>{% for la, service, status, n in areas %}<tr><th>{{ la }}</th><td>{{ service }}</td>
<td>{{ status }}</td><td>{{ n }}</td></tr>{% endfor %}</table></main></body></html>"""


def dashboard_app(url: str) -> Flask:
    """Nominees counted by their participant's status, and consented or submitted participants
    by authority and service: the dashboard's counting in two GROUP BY queries."""
    app = Flask("bare_dashboard")
    engine = web_engine(url)
    template = app.jinja_env.from_string(DASHBOARD)
    by_status = sa.text("SELECT p.status, count(*) FROM nominee n JOIN participant p ON p.id = n.participant_id "
                        "GROUP BY p.status")
    by_area = sa.text("SELECT n.la_code, n.service_area, p.status, count(*) FROM nominee n JOIN participant p "
                      "ON p.id = n.participant_id WHERE p.status IN ('consented', 'submitted') "
                      "GROUP BY n.la_code, n.service_area, p.status")

    @app.get("/dashboard")
    def dashboard():
        with engine.connect() as connection:
            return template.render(statuses=connection.execute(by_status).all(),
                                   areas=connection.execute(by_area).all())

    return app


# -- served by gunicorn as the app is --------------------------------------------------------

def serve(app: Flask, bind: str, workers: int, threads: int) -> None:
    """Gunicorn with the options ``surveyapp serve`` uses (surveyapp.server.options)."""
    import tempfile

    from surveyapp.config import load_config
    from surveyapp.server import Server, options

    config = load_config(tempfile.gettempdir(), {"ENV": "testing"})
    Server(app, options(config, bind=bind, workers=workers, threads=threads)).run()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=["autosave", "page", "dashboard"])
    parser.add_argument("--bind", required=True)
    parser.add_argument("--workers", type=int, required=True)
    parser.add_argument("--threads", type=int, required=True)
    args = parser.parse_args()
    if args.kind == "autosave":
        app = upsert_app(os.environ["BENCH_DATABASE_URL"])
    elif args.kind == "dashboard":
        app = dashboard_app(os.environ["BENCH_DATABASE_URL"])
    else:
        app = page_app(int(os.environ.get("BENCH_SECTION", "4")))
    serve(app, args.bind, args.workers, args.threads)


if __name__ == "__main__":
    main()
