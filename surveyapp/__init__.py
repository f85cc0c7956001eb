"""The bilingual survey, consent and interview platform."""

from __future__ import annotations

from flask import Flask

from surveyapp.config import load_config


def create_app(config_overrides: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(load_config(app.instance_path, config_overrides))

    from surveyapp import i18n
    from surveyapp.extensions import babel, csrf, db, migrate

    if app.config.get("VALIDATE_CATALOGUES", True):
        i18n.validate_catalogues(app)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(_migrations_dir()), render_as_batch=True,
                     compare_type=True)
    babel.init_app(app, locale_selector=i18n.select_locale)
    csrf.init_app(app)
    _import_models()

    from surveyapp import web
    web.init_app(app)

    from surveyapp.participant.views import bp as participant_bp
    app.register_blueprint(participant_bp)
    return app


def _migrations_dir():
    from surveyapp.config import PROJECT_ROOT

    return PROJECT_ROOT / "migrations"


def _import_models() -> None:
    """Import every model module so metadata (and Alembic autogenerate) sees all tables."""
    from surveyapp.consent import models as _consent  # noqa: F401
    from surveyapp.instruments import models as _instruments  # noqa: F401
    from surveyapp.participant import models as _participant  # noqa: F401
    from surveyapp.responses import models as _responses  # noqa: F401
    from surveyapp.studies import models as _studies  # noqa: F401
