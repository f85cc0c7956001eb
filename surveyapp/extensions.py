"""Unbound extensions, bound to an app in create_app()."""

from flask_babel import Babel
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect

from surveyapp.db import db

babel = Babel()
migrate = Migrate()
csrf = CSRFProtect()

__all__ = ["babel", "csrf", "db", "migrate"]
