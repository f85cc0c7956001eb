"""SMTP settings from the configuration: credentials and STARTTLS, against a real server."""

from __future__ import annotations

import gc
import shutil
import ssl
import subprocess
import warnings
from collections import Counter

import pytest
import sqlalchemy as sa
from aiosmtpd.smtp import AuthResult, LoginPassword

from surveyapp.db import db
from surveyapp.invitations import services
from surveyapp.invitations.models import Message, MessageKind
from surveyapp.studies.models import Study

from .conftest import LINK_KEY, SmtpServer, csv_of, load_nominees

PEOPLE = (("Aled Wyn", "aled@example.org", "en"), ("Siân Ŵyn", "sian@example.org", "cy"))


def _send(app, study) -> tuple[str, str | None, Counter]:
    load_nominees(app, study, csv_of(*PEOPLE))
    with app.app_context():
        batch = services.create_batch(db.session.get(Study, study.id), MessageKind.INVITATION)
        db.session.commit()
        batch = services.run_batch(batch.id)
        return batch.status, batch.note, Counter(db.session.scalars(sa.select(Message.status)))


@pytest.fixture
def server_factory():
    servers = []

    def start(**options) -> SmtpServer:
        server = SmtpServer(**options)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def _authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        b"mailer",
        b"s3cret-pass",
    )
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself


AUTH_WARNING = "ignore:Requiring AUTH while not requiring TLS:UserWarning"


def _server_requiring_sign_in(make_app, server_factory, password):
    """A mail server that asks for a password, and an app that signs in with ``password``."""
    server = server_factory(
        authenticator=_authenticator,
        auth_required=True,
        auth_require_tls=False,
        auth_exclude_mechanism=["LOGIN"],
    )  # smtplib tries PLAIN first
    app = make_app(
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=server.port,
        LINK_KEY=LINK_KEY,
        SMTP_USERNAME="mailer",
        SMTP_PASSWORD=password,
    )
    return server, app


@pytest.mark.filterwarnings(AUTH_WARNING)
def test_credentials_from_the_config_are_used(make_app, server_factory, study):
    server, app = _server_requiring_sign_in(make_app, server_factory, "s3cret-pass")
    status, _note, statuses = _send(app, study)
    assert status == "done" and statuses == Counter({"sent": 2})
    assert server.handler.addresses() == Counter({p[1]: 1 for p in PEOPLE})


def _send_with_wrong_password(make_app, server_factory, study):
    """Send with a wrong password; return the outcome and the ResourceWarnings that followed."""
    server, app = _server_requiring_sign_in(make_app, server_factory, "wrong")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        outcome = _send(app, study)
        gc.collect()
    return server, outcome, [w for w in caught if issubclass(w.category, ResourceWarning)]


@pytest.mark.filterwarnings(AUTH_WARNING)
def test_wrong_credentials_stop_the_batch_and_nobody_is_marked_failed(
    make_app, server_factory, study
):
    server, (status, note, statuses), _leaks = _send_with_wrong_password(
        make_app, server_factory, study
    )
    assert status == "interrupted"
    assert "Mail server unavailable" in note and "535" in note
    assert statuses == Counter({"pending": 2}), "a sign-in failure is not the nominees' failure"
    assert server.handler.received == []


@pytest.mark.filterwarnings(AUTH_WARNING)
def test_a_failed_sign_in_closes_the_connection(make_app, server_factory, study):
    _server, (status, _note, _statuses), leaks = _send_with_wrong_password(
        make_app, server_factory, study
    )
    assert status == "interrupted"
    assert leaks == [], [str(w.message) for w in leaks]


@pytest.fixture(scope="session")
def certificate(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def _tls_server(server_factory, certificate) -> SmtpServer:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return server_factory(tls_context=context, require_starttls=True)


def test_starttls_is_used_when_configured(
    make_app, server_factory, study, certificate, monkeypatch
):
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))  # the test CA is trusted here
    server = _tls_server(server_factory, certificate)
    app = make_app(
        SMTP_HOST="127.0.0.1", SMTP_PORT=server.port, LINK_KEY=LINK_KEY, SMTP_STARTTLS=True
    )
    status, _note, statuses = _send(app, study)
    assert status == "done" and statuses == Counter({"sent": 2})
    assert server.handler.addresses() == Counter({p[1]: 1 for p in PEOPLE})


def test_starttls_refuses_a_server_whose_certificate_is_not_trusted(
    make_app, server_factory, study, certificate, monkeypatch
):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    server = _tls_server(server_factory, certificate)
    app = make_app(
        SMTP_HOST="127.0.0.1", SMTP_PORT=server.port, LINK_KEY=LINK_KEY, SMTP_STARTTLS=True
    )
    status, note, statuses = _send(app, study)
    assert server.handler.received == [], (
        "mail was handed to a server with an untrusted certificate"
    )
    assert status == "interrupted" and statuses == Counter({"pending": 2})
    assert "certificate" in note.lower()
