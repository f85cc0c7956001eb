"""Unbound extensions, bound to an app in create_app()."""

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect

from surveyapp.db import db

babel = Babel()
migrate = Migrate()
csrf = CSRFProtect()
login_manager = LoginManager()
limiter = Limiter(key_func=get_remote_address)

__all__ = ["babel", "csrf", "db", "limiter", "login_manager", "migrate"]
