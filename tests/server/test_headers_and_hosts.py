"""Item 11: hosts, headers, cookies and secrets."""

from __future__ import annotations

import pytest

from surveyapp import create_app
from surveyapp.config import ConfigError

LONG = "k" * 40


def production(make_app, **overrides):
    return make_app(ENV="production", SECRET_KEY=LONG, LINK_KEY=LONG, SERVER_NAME=None, **overrides)


def test_a_host_other_than_the_public_one_is_refused_in_both_languages(make_app, study):
    app = production(make_app, PUBLIC_URL="https://survey.example")
    client = app.test_client()
    response = client.get(f"/s/{study.slug}", headers={"Host": "evil.test"})
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "Please use the link you were sent." in text
    assert "Defnyddiwch y ddolen a anfonwyd atoch." in text
    assert "evil.test" not in text
    assert client.get(f"/s/{study.slug}", base_url="https://survey.example").status_code == 200


def test_trusted_hosts_can_be_listed(make_app):
    app = production(make_app, PUBLIC_URL="https://survey.example", TRUSTED_HOSTS="a.example, b.example")
    client = app.test_client()
    assert client.get("/login", base_url="https://b.example").status_code == 200
    assert client.get("/login", base_url="https://survey.example").status_code == 400


def test_the_personal_link_shown_is_built_from_public_url_not_the_host_header(make_app, study):
    from surveyapp.urls import public_url

    app = make_app(PUBLIC_URL="https://survey.example/research", SERVER_NAME=None)
    with app.test_request_context("/", headers={"Host": "evil.test"}):
        url = public_url("participant.resume", token="abc")
    assert url == "https://survey.example/research/p/abc"


@pytest.mark.parametrize("path", ["/login", "/s/front-door-phase1"])
def test_pages_are_never_cached(app, study, path):
    response = app.test_client().get(path)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"


def test_static_files_may_be_cached(app):
    response = app.test_client().get("/static/css/app.css")
    response.close()
    assert response.status_code == 200
    assert response.headers.get("Cache-Control") != "no-store"


def test_https_brings_hsts_and_a_host_only_secure_cookie(make_app, study):
    app = production(make_app, PUBLIC_URL="https://survey.example")
    response = app.test_client().get("/login", base_url="https://survey.example")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("__Host-session=")
    assert "Secure" in cookie and "Path=/" in cookie and "Domain" not in cookie


def test_plain_http_has_no_hsts(make_app):
    app = make_app(PUBLIC_URL="http://127.0.0.1:5000")
    response = app.test_client().get("/login")
    assert "Strict-Transport-Security" not in response.headers
    assert not response.headers["Set-Cookie"].startswith("__Host-")


@pytest.mark.parametrize("key", ["SECRET_KEY", "LINK_KEY", "AUDIT_KEY"])
def test_production_refuses_a_short_secret(key):
    config = {"ENV": "production", "SECRET_KEY": LONG, "LINK_KEY": LONG, "AUDIT_KEY": LONG, key: "x" * 31}
    with pytest.raises(ConfigError, match=f"SURVEYAPP_{key} must be at least 32 bytes"):
        create_app(config)


def test_every_response_carries_a_request_id(app):
    response = app.test_client().get("/login", headers={"X-Request-ID": "proxy-42"})
    assert response.headers["X-Request-ID"] == "proxy-42"
    fresh = app.test_client().get("/login", headers={"X-Request-ID": "bad id <script>"})
    assert fresh.headers["X-Request-ID"] != "bad id <script>" and len(fresh.headers["X-Request-ID"]) == 16


@pytest.mark.parametrize("proxies,seen", [(0, "127.0.0.1"), (1, "203.0.113.9")])
def test_the_client_address_behind_a_proxy_comes_from_x_forwarded_for_only_when_configured(
        make_app, caplog, proxies, seen):
    import json

    app = make_app(PROXY_COUNT=proxies)
    with caplog.at_level("WARNING", logger="surveyapp.security"):
        response = app.test_client().get("/p/no-such-link-at-all/consent",
                                         headers={"X-Forwarded-For": "203.0.113.9"})
    assert response.status_code == 404
    (event,) = [json.loads(r.getMessage()) for r in caplog.records if r.name == "surveyapp.security"]
    assert event["event"] == "token_failure" and event["remote_addr"] == seen
    assert event["path"] == "/p/<token>/consent"
