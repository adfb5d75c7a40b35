"""A client's visit to the portal as production serves it: over TLS through
nginx, in chromium, sign in, find the case, upload, download, sign out."""
from __future__ import annotations

import secrets
from pathlib import Path

from tests.browser.accessibility import check_accessibility
from tests.browser.servers import Portal
from tests.browser.uploading import upload

SCREENSHOTS = Path(__file__).parent / "screenshots"
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}
AUDITED = ("auth.login", "document.uploaded", "document.downloaded")


def small_pdf(text: str) -> bytes:
    """A one-page PDF showing ``text``, with a correct cross-reference table."""
    stream = f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
               b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
               b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


def screenshot(page, name: str) -> None:
    """Save the page at phone and desktop width, for people to look at."""
    SCREENSHOTS.mkdir(exist_ok=True)
    for width, size in VIEWPORTS.items():
        page.set_viewport_size(size)
        check_accessibility(page)  # at each width: the layouts differ
        page.screenshot(path=SCREENSHOTS / f"{name}-{width}.png", full_page=True)
    page.set_viewport_size(VIEWPORTS["desktop"])


def test_client_signs_in_uploads_downloads_and_signs_out_over_tls(
        production_portal: Portal, browser):
    from playwright.sync_api import expect  # only where the browser tests can run

    portal, base = production_portal, production_portal.base_url
    responses, csp_violations = [], []
    # A client may claim any address; only the proxy's word may count.
    browser.set_extra_http_headers({"X-Forwarded-For": "203.0.113.9"})
    page = browser.new_page()
    page.on("response", lambda r: responses.append(r) if r.url.startswith(base) else None)
    page.on("console", lambda m: csp_violations.append(m.text)
            if "Content Security Policy" in m.text else None)

    # Links whose path holds a secret are answered but logged by no server.
    secret_links = {prefix: secrets.token_urlsafe(32) for prefix in ("invitation", "reset")}
    for prefix, token in secret_links.items():
        page.goto(f"{base}/{prefix}/{token}")

    # Sign in through the form: over HTTPS, Flask-WTF wants a same-origin Referer.
    page.goto(f"{base}/login")
    screenshot(page, "1-login")
    page.get_by_label("Email").fill(portal.client_email)
    page.get_by_label("Password").fill(portal.client_password)
    with page.expect_response(lambda r: r.url == f"{base}/login"
                              and r.request.method == "POST") as signed_in:
        page.get_by_role("button", name="Sign in").click()
    assert signed_in.value.status == 302, (signed_in.value.status, page.content()[:2000],
                                           portal.server_logs())
    page.wait_for_url(f"{base}/")

    # The session cookie, and any other the portal sets, is locked to this host.
    cookies = {c["name"]: c for c in browser.cookies(base)}
    assert "__Host-session" in cookies, cookies
    for cookie in cookies.values():
        assert cookie["name"].startswith("__Host-") and cookie["path"] == "/", cookie
        assert cookie["secure"] and cookie["httpOnly"], cookie
        assert cookie["sameSite"] in ("Lax", "Strict"), cookie
    screenshot(page, "2-dashboard")

    page.get_by_role("link", name=portal.case_title).click()
    page.wait_for_url(f"{base}/cases/{portal.case_uuid}")
    screenshot(page, "3-case")
    page.get_by_role("link", name="Documents").click()
    page.wait_for_url(f"{base}/cases/{portal.case_uuid}/documents")

    # Upload through the resumable uploader; nginx streams each piece to gunicorn and the
    # job consumer puts the file together (the plain form: test_resumable_uploads.py).
    pdf = small_pdf("Passport of Rosa Perez")
    upload(page, page.locator("form.upload"), [("passport.pdf", pdf)])
    expect(page.locator("ul.documents").get_by_role("link", name="passport.pdf")).to_be_visible()
    screenshot(page, "4-documents")

    with page.expect_download() as downloaded:
        page.locator("ul.documents").get_by_role("link", name="Download").click()
    assert downloaded.value.suggested_filename == "passport.pdf"
    assert Path(downloaded.value.path()).read_bytes() == pdf

    # The audit trail names the browser's address, which only a believed
    # X-Forwarded-For can tell; a proxy not trusted would show 127.0.0.2.
    rows = portal.audit_rows(*AUDITED)
    assert {action for action, _ in rows} == set(AUDITED), rows
    assert {address for _, address in rows} == {"127.0.0.1"}, rows

    # Every answer of the portal, redirects and the download included, had HSTS.
    assert any(r.url.endswith("/download") for r in responses)
    missing_hsts = [r.url for r in responses if "strict-transport-security" not in r.headers]
    assert not missing_hsts, missing_hsts
    assert {r.headers.get("referrer-policy") for r in responses} == {"same-origin"}
    assert not csp_violations, csp_violations

    # Checked late, long after those requests ended and their lines were written.
    assert "nginx-access.log" in portal.logs_containing("GET /login ")
    # gunicorn's access line is JSON, with the request id the response carried.
    assert "gunicorn.log" in portal.logs_containing('"method": "GET", "path": "/login"')
    request_ids = {r.headers.get("x-request-id") for r in responses} - {None}
    assert request_ids and all(portal.logs_containing(f'"request_id": "{rid}"')
                               for rid in list(request_ids)[:3])
    for prefix, token in secret_links.items():
        assert not portal.logs_containing(token), (prefix, portal.logs_containing(token))

    # Signing out ends the session on the server: the dashboard asks to sign
    # in again, even with the old cookie put back.
    copied = browser.cookies(base)
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{base}/login")
    page.goto(f"{base}/")
    assert page.url.startswith(f"{base}/login"), page.url
    browser.add_cookies(copied)
    page.goto(f"{base}/")
    assert page.url.startswith(f"{base}/login"), page.url
