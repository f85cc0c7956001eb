"""Configuration: defaults, then SURVEYAPP_* environment variables, then explicit overrides."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS_DIR = PROJECT_ROOT / "translations"
INSTRUMENTS_DIR = PROJECT_ROOT / "instruments"

ENV_PREFIX = "SURVEYAPP_"


class ConfigError(RuntimeError):
    """Raised when the configuration cannot be used safely."""


def _defaults(instance_path: str) -> dict:
    return {
        "ENV": "production",
        "SECRET_KEY": None,
        "DATABASE_URL": "sqlite:///" + str(Path(instance_path) / "surveyapp.sqlite3"),
        "INSTRUMENTS_DIR": str(INSTRUMENTS_DIR),
        "TRANSLATIONS_DIR": str(TRANSLATIONS_DIR),
        "DEFAULT_LOCALE": "en",
        "TIMEZONE": "Europe/London",
        # A deliberate limit that long answers fit under: a 90,000-character answer of
        # emoji is about 1.1 MB once form-encoded (12 bytes a character), so a page with
        # several such answers still saves. Werkzeug's separate 500 kB default for form
        # fields (MAX_FORM_MEMORY_SIZE) would refuse a single one, so it is raised to match.
        "MAX_CONTENT_LENGTH": 8 * 1024 * 1024,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
    }


def load_config(instance_path: str, overrides: dict | None = None) -> dict:
    """Return the app configuration as a plain dict.

    Precedence: built-in defaults < SURVEYAPP_* environment < ``overrides``.
    """
    cfg = _defaults(instance_path)
    for name, value in os.environ.items():
        if name.startswith(ENV_PREFIX):
            cfg[name[len(ENV_PREFIX):]] = value
    cfg.update(overrides or {})

    env = cfg["ENV"]
    if not cfg.get("SECRET_KEY"):
        if env in ("development", "testing"):
            # A fresh random key per process: never a guessable default.
            cfg["SECRET_KEY"] = secrets.token_hex(32)
        else:
            raise ConfigError(
                "SURVEYAPP_SECRET_KEY must be set outside development and testing."
            )
    cfg["SESSION_COOKIE_SECURE"] = _as_bool(
        cfg.get("SESSION_COOKIE_SECURE", env not in ("development", "testing"))
    )
    cfg["MAX_CONTENT_LENGTH"] = int(cfg["MAX_CONTENT_LENGTH"])
    cfg["MAX_FORM_MEMORY_SIZE"] = cfg["MAX_CONTENT_LENGTH"]
    cfg["SQLALCHEMY_DATABASE_URI"] = cfg["DATABASE_URL"]
    cfg["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_pre_ping": True}
    cfg["BABEL_TRANSLATION_DIRECTORIES"] = cfg["TRANSLATIONS_DIR"]
    cfg["BABEL_DEFAULT_LOCALE"] = cfg["DEFAULT_LOCALE"]
    cfg["BABEL_DEFAULT_TIMEZONE"] = cfg["TIMEZONE"]
    # Flask-WTF's own messages are English-only; ours come from our catalogue.
    cfg["WTF_I18N_ENABLED"] = False
    cfg["WTF_CSRF_TIME_LIMIT"] = None if env == "testing" else 8 * 3600
    return cfg


def _as_bool(value) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")
