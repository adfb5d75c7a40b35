"""The client's address and scheme behind a reverse proxy: believed only from
the proxies named in PORTAL_TRUSTED_PROXIES."""
from __future__ import annotations

import pytest
from flask import request
from sqlalchemy import select

from portal import create_app
from portal.extensions import db
from portal.models import AuditEvent
from tests.conftest import PASSWORD, PortalClient

PROXY = "10.0.0.5"
BROWSER = "203.0.113.7"
FORWARDED = {"X-Forwarded-For": BROWSER, "X-Forwarded-Proto": "https"}


@pytest.fixture()
def app_behind_proxy(base_config, app):
    """The test app, told to trust the proxy at ``PROXY``."""
    proxied = create_app("testing", {**base_config, "TRUSTED_PROXIES": f"192.0.2.1, {PROXY}/32"})
    proxied.test_client_class = PortalClient
    return proxied


def sign_in(app, make_user, remote_addr: str):
    user = make_user("client")
    client = app.test_client()
    environ = {"REMOTE_ADDR": remote_addr}
    client.get("/login", environ_base=environ, headers=FORWARDED)
    token = client.csrf_token()
    # Over HTTPS, Flask-WTF wants a same-origin Referer, as the browser sends it.
    client.post("/login", data={"csrf_token": token, "email": user.email, "password": PASSWORD},
                environ_base=environ, headers={**FORWARDED, "Referer": "https://localhost/login"})
    return db.session.scalar(select(AuditEvent.ip_address).where(AuditEvent.action == "auth.login"))


def test_audit_records_the_browser_address_sent_by_a_trusted_proxy(app_behind_proxy, make_user):
    assert sign_in(app_behind_proxy, make_user, PROXY) == BROWSER


def test_forwarded_headers_from_anyone_else_are_ignored(app_behind_proxy, make_user):
    # A client talking to the app directly cannot claim another address.
    assert sign_in(app_behind_proxy, make_user, "198.51.100.9") == "198.51.100.9"


def test_no_proxy_is_trusted_by_default(app, make_user):
    assert sign_in(app, make_user, PROXY) == PROXY


def test_scheme_comes_from_a_trusted_proxy_only(app_behind_proxy):
    seen = []
    app_behind_proxy.before_request(lambda: seen.append(request.scheme))
    app_behind_proxy.test_client().get("/healthz", environ_base={"REMOTE_ADDR": PROXY},
                                       headers=FORWARDED)
    app_behind_proxy.test_client().get("/healthz", environ_base={"REMOTE_ADDR": "198.51.100.9"},
                                       headers=FORWARDED)
    assert seen == ["https", "http"]


def test_malformed_trusted_proxies_setting_is_refused():
    with pytest.raises(ValueError, match="'proxy.example'"):
        create_app("testing", {"SQLALCHEMY_DATABASE_URI": "sqlite://",
                               "TRUSTED_PROXIES": "10.0.0.1, proxy.example"})
