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
        # The audit trail's HMAC key (surveyapp/audit/chain.py). Kept outside the database, so
        # that database access alone cannot rebuild the chain; changing it makes every past
        # event fail verification.
        "AUDIT_KEY": None,
        # The file each committed chain head is appended to (default: the instance folder).
        "AUDIT_ANCHOR_PATH": None,
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
        # The address participants reach the app on, for links in emails.
        "PUBLIC_URL": "http://127.0.0.1:5000",
        "MAIL_FROM": "Safeguarding research <research@example.org>",
        "MAIL_DOMAIN": "surveyapp.invalid",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": 25,
        "SMTP_STARTTLS": False,
        "SMTP_USERNAME": None,
        "SMTP_PASSWORD": None,
        "SMTP_TIMEOUT": 30,
        # Reminders go no more often than this to the same person.
        "REMINDER_INTERVAL_DAYS": 7,
        # "Email me my link": at most this many emails per participant in the window.
        "LINK_EMAIL_LIMIT": 3,
        "LINK_EMAIL_WINDOW_SECONDS": 3600,
        # Huey's storage: SQLite in the instance folder, or redis://host:port/db in production.
        "TASK_QUEUE_URL": "sqlite:///" + str(Path(instance_path) / "tasks.sqlite3"),
        "SESSION_COOKIE_HTTPONLY": True,
        # Staff sessions end after 8 hours; Flask enforces it when reading the signed cookie.
        "PERMANENT_SESSION_LIFETIME": 8 * 3600,
        "REMEMBER_COOKIE_DURATION": 0,
        # Login attempts per address; "redis://127.0.0.1:6379" shares the count across workers.
        "RATELIMIT_STORAGE_URI": "memory://",
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_HEADERS_ENABLED": False,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # Host names the app answers to (comma-separated). Empty: the host of PUBLIC_URL, and
        # in development also localhost and 127.0.0.1. Any other Host header gets a 400.
        "TRUSTED_HOSTS": "",
        # `surveyapp serve` (gunicorn): processes, threads each, and seconds before a stuck
        # request's worker is restarted. Keep a buffering reverse proxy in front (README).
        "WORKERS": 2,
        "THREADS": 4,
        "WORKER_TIMEOUT": 30,
        "BIND": "127.0.0.1:8000",
        # Per-address budgets for participants (Flask-Limiter syntax), each counted apart:
        # - the open link: a person needs one participant; an office behind one address may
        #   start a few together. 300 in two seconds is a script.
        # - personal links: only look-ups that match nobody count. A person with a mangled
        #   link tries a few times; 1,000 guesses are a search.
        # - autosave: the script saves at most about once a second per answer while someone
        #   types; 240 a minute is far above that, even for several people behind one address.
        "PARTICIPANT_OPEN_LINK_LIMIT": "10 per minute;50 per hour",
        "PARTICIPANT_TOKEN_FAILURE_LIMIT": "10 per minute;50 per hour",
        "PARTICIPANT_AUTOSAVE_LIMIT": "240 per minute",
        # How many reverse proxies in front set X-Forwarded-For/-Proto/-Host. 0: none, the
        # client's address is the connection's. Behind one nginx: 1. Rate limits and the
        # security log use the address this gives.
        "PROXY_COUNT": 0,
        # A nominee upload up to this size is imported in the request; a larger one becomes a
        # background job with a progress page.
        "NOMINEE_IMPORT_INLINE_BYTES": 200_000,
        # Invitations claimed in one commit and recorded in the next (a crash leaves at most
        # this many "uncertain", never resent by themselves).
        "SEND_GROUP_SIZE": 10,
        # Seconds a statement waits for another's lock (SQLite's busy timeout, PostgreSQL's
        # lock_timeout) before the request gets the "nothing was lost" 503 page.
        "DATABASE_LOCK_TIMEOUT": 5,
    }

# Secrets shorter than this are refused outside development and testing.
MIN_SECRET_BYTES = 32


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
    for key in ("SECRET_KEY", "LINK_KEY", "AUDIT_KEY"):
        if cfg.get(key):
            if env not in ("development", "testing") and len(str(cfg[key]).encode()) < MIN_SECRET_BYTES:
                raise ConfigError(f"SURVEYAPP_{key} must be at least {MIN_SECRET_BYTES} bytes long "
                                  "(for example: python -c 'import secrets; print(secrets.token_hex(32))').")
            continue
        if env == "testing":
            cfg[key] = secrets.token_hex(32)  # never a guessable default
        elif env == "development":
            cfg[key] = _instance_secret(instance_path, key)
        else:
            raise ConfigError(f"SURVEYAPP_{key} must be set outside development and testing.")
    if not cfg.get("AUDIT_ANCHOR_PATH"):
        cfg["AUDIT_ANCHOR_PATH"] = (_temporary_anchor() if env == "testing"
                                    else str(Path(instance_path) / "audit-anchor.log"))
    cfg["SESSION_COOKIE_SECURE"] = _as_bool(
        cfg.get("SESSION_COOKIE_SECURE", env not in ("development", "testing"))
    )
    cfg["TRUSTED_HOSTS"] = _trusted_hosts(cfg)
    if str(cfg["PUBLIC_URL"]).startswith("https://"):
        # A __Host- cookie is sent only over https, to this exact host, for the whole site:
        # a neighbouring subdomain cannot set or overwrite it.
        cfg["SESSION_COOKIE_SECURE"] = True
        cfg.setdefault("SESSION_COOKIE_NAME", "__Host-session")
        cfg["SESSION_COOKIE_DOMAIN"] = None
        cfg["SESSION_COOKIE_PATH"] = "/"
    cfg["PERMANENT_SESSION_LIFETIME"] = int(cfg["PERMANENT_SESSION_LIFETIME"])
    for key in ("SMTP_PORT", "SMTP_TIMEOUT", "REMINDER_INTERVAL_DAYS", "LINK_EMAIL_LIMIT",
                "LINK_EMAIL_WINDOW_SECONDS", "WORKERS", "THREADS", "WORKER_TIMEOUT", "PROXY_COUNT",
                "NOMINEE_IMPORT_INLINE_BYTES", "SEND_GROUP_SIZE"):
        cfg[key] = int(cfg[key])
    cfg["SMTP_STARTTLS"] = _as_bool(cfg["SMTP_STARTTLS"])
    cfg["RATELIMIT_ENABLED"] = _as_bool(cfg["RATELIMIT_ENABLED"])
    cfg["MAX_CONTENT_LENGTH"] = int(cfg["MAX_CONTENT_LENGTH"])
    cfg["MAX_FORM_MEMORY_SIZE"] = cfg["MAX_CONTENT_LENGTH"]
    cfg["SQLALCHEMY_DATABASE_URI"] = cfg["DATABASE_URL"]
    # No ping on every checkout (a statement per request): a connection the server dropped
    # fails one request with the 503 page and is replaced; idle ones are renewed hourly.
    cfg["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_pre_ping": False, "pool_recycle": 3600}
    # How long a statement waits for another's lock before the request gets the 503 page.
    lock_timeout = float(cfg["DATABASE_LOCK_TIMEOUT"])
    if str(cfg["DATABASE_URL"]).startswith("sqlite"):
        cfg["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"] = {"timeout": lock_timeout}
    elif str(cfg["DATABASE_URL"]).startswith("postgresql"):
        cfg["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"] = {"options": f"-c lock_timeout={int(lock_timeout * 1000)}"}
    cfg["BABEL_TRANSLATION_DIRECTORIES"] = cfg["TRANSLATIONS_DIR"]
    cfg["BABEL_DEFAULT_LOCALE"] = cfg["DEFAULT_LOCALE"]
    cfg["BABEL_DEFAULT_TIMEZONE"] = cfg["TIMEZONE"]
    # Flask-WTF's own messages are English-only; ours come from our catalogue.
    cfg["WTF_I18N_ENABLED"] = False
    cfg["WTF_CSRF_TIME_LIMIT"] = None if env == "testing" else 8 * 3600
    # CSRF is checked by each form (so a failure re-shows what was posted) or, for every
    # other POST, by surveyapp.web's before-request hook.
    cfg["WTF_CSRF_CHECK_DEFAULT"] = False
    return cfg


def _trusted_hosts(cfg: dict) -> list[str] | None:
    """The Host names to answer to; None (any) only in testing when none were given."""
    from urllib.parse import urlsplit

    given = cfg.get("TRUSTED_HOSTS")
    if isinstance(given, list | tuple):
        return list(given) or None
    hosts = [h.strip() for h in str(given or "").split(",") if h.strip()]
    if hosts:
        return hosts
    if cfg["ENV"] == "testing":
        return None
    hosts = [urlsplit(str(cfg["PUBLIC_URL"])).hostname or "127.0.0.1"]
    if cfg["ENV"] == "development":
        hosts += ["localhost", "127.0.0.1"]
    return hosts


def _instance_secret(instance_path: str, name: str) -> str:
    """A random development secret kept in the instance folder, so that personal links
    and sessions survive restarts of the demo."""
    path = Path(instance_path) / f"{name.lower()}.dev"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32), "utf-8")
        path.chmod(0o600)
    return path.read_text("utf-8").strip()


def _temporary_anchor() -> str:
    """A test app's own anchor file, so that tests on a wiped database start a new chain."""
    import tempfile

    handle, path = tempfile.mkstemp(prefix="surveyapp-audit-anchor-", suffix=".log")
    os.close(handle)
    return path


def _as_bool(value) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")
