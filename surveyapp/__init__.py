"""The bilingual survey, consent and interview platform."""

from __future__ import annotations

from flask import Flask

from surveyapp.config import load_config


def create_app(config_overrides: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(load_config(app.instance_path, config_overrides))
    if app.config["PROXY_COUNT"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    from surveyapp import i18n
    from surveyapp.extensions import babel, csrf, db, limiter, login_manager, migrate

    if app.config.get("VALIDATE_CATALOGUES", True):
        i18n.validate_catalogues(app)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(_migrations_dir()), render_as_batch=True,
                     compare_type=True)
    babel.init_app(app, locale_selector=i18n.select_locale)
    csrf.init_app(app)
    limiter.init_app(app)
    _init_login(login_manager, app)
    _import_models()

    app.extensions["huey"] = None  # made on first use: surveyapp.tasks.get_huey

    from surveyapp import faults, security, web
    web.init_app(app)
    security.init_app(app)
    faults.init_app(app)

    from surveyapp.accounts.views import bp as accounts_bp
    from surveyapp.audit.views import bp as audit_bp
    from surveyapp.dashboard.views import bp as dashboard_bp
    from surveyapp.health import bp as health_bp
    from surveyapp.interviews.views import bp as interviews_bp
    from surveyapp.invitations.views import bp as invitations_bp
    from surveyapp.nominees.views import bp as nominees_bp
    from surveyapp.participant.views import bp as participant_bp
    from surveyapp.review.views import bp as review_bp
    from surveyapp.withdrawal.views import bp as withdrawals_bp

    for blueprint in (participant_bp, accounts_bp, dashboard_bp, nominees_bp, invitations_bp, withdrawals_bp,
                      interviews_bp, review_bp, audit_bp, health_bp):
        app.register_blueprint(blueprint)

    from surveyapp.access import check_routes_declare_access, public

    public(app.view_functions["static"])
    check_routes_declare_access(app)
    return app


def _init_login(login_manager, app: Flask) -> None:
    from flask_babel import lazy_gettext as _l

    from surveyapp.accounts.services import load_user

    login_manager.init_app(app)
    login_manager.user_loader(load_user)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = _l("Please sign in to open that page.")


def _migrations_dir():
    from surveyapp.config import PROJECT_ROOT

    return PROJECT_ROOT / "migrations"


def _import_models() -> None:
    """Import every model module so metadata (and Alembic autogenerate) sees all tables."""
    from surveyapp.accounts import models as _accounts  # noqa: F401
    from surveyapp.audit import chain as _audit  # noqa: F401  (models, and the anchor hooks)
    from surveyapp.consent import models as _consent  # noqa: F401
    from surveyapp.instruments import models as _instruments  # noqa: F401
    from surveyapp.invitations import models as _invitations  # noqa: F401
    from surveyapp.nominees import models as _nominees  # noqa: F401
    from surveyapp.participant import models as _participant  # noqa: F401
    from surveyapp.responses import models as _responses  # noqa: F401
    from surveyapp.studies import models as _studies  # noqa: F401
    from surveyapp.withdrawal import models as _withdrawal  # noqa: F401
