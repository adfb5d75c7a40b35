"""The pages with upload forms tell the resumable uploader (static/js/uploader.js)
what it needs, and only once the portal has a tus endpoint; the plain form
stays as it was."""
from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest
from flask import render_template

from portal.evidence.routes import upload_form_context
from portal.evidence.services import MAX_FILES_PER_FORM
from portal.extensions import db
from portal.models import Document
from portal.requests import services as requests
from tests.uploads import PDF, documents_url, upload

STRING_KEYS = {"saving", "saved", "notSaved", "stillSaving", "fileError", "connection",
               "refused", "notAllowed", "expired", "sending", "messageFailed", "forRequest",
               "limits"}


class Page(HTMLParser):
    """The elements of a page, as (tag, attributes) in order."""

    def __init__(self, text: str):
        super().__init__()
        self.elements: list[tuple[str, dict]] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def all(self, tag: str, **match) -> list[dict]:
        return [a for t, a in self.elements
                if t == tag and all(a.get(k.replace("_", "-")) == v for k, v in match.items())]

    def upload_forms(self) -> list[dict]:
        return [a for a in self.all("form") if "upload" in a.get("class", "").split()]

    def hidden(self, name: str) -> list[str]:
        return [a["value"] for a in self.all("input", type="hidden", name=name)]

    def scripts(self) -> list[str]:
        return [a.get("src") for a in self.all("script")]

    def stylesheets(self) -> list[str]:
        return [a["href"] for a in self.all("link", rel="stylesheet")]


@pytest.fixture()
def people(make_user, make_case):
    client, attorney = make_user("client", language="es"), make_user("attorney")
    case = make_case(attorney=attorney, client=client)
    return dict(client=client, attorney=attorney, case=case)


def _assert_uploader_data(form: dict, page: Page, max_files: int) -> dict:
    assert form["data-tus"] == "/uploads"
    assert int(form["data-tus-chunk"]) == 0  # config.py's TUS_CHUNK_BYTES: the whole file
    assert form["data-max-files"] == str(max_files)
    assert int(form["data-max-bytes"]) > 0 and int(form["data-remaining-bytes"]) > 0
    assert form["data-csrf"] in page.hidden("csrf_token")
    accept = form["data-accept"].split(",")
    assert ".pdf" in accept and "image/*" in accept
    strings = json.loads(form["data-strings"])
    assert set(strings) == STRING_KEYS and all(strings.values())
    return strings


def test_documents_page_hands_the_uploader_its_settings_in_the_readers_language(
        client, login_as, people):
    login_as(people["client"])
    response = client.get(f"/cases/{people['case'].uuid}/documents")
    page = Page(response.text)
    [form] = page.upload_forms()
    strings = _assert_uploader_data(form, page, max_files=MAX_FILES_PER_FORM)
    assert form["data-submission-id"] == page.hidden("submission_id")[0]
    assert strings["saving"] == "Guardando…"
    assert "{name}" in strings["notSaved"] and "{title}" in strings["forRequest"]
    # The plain form is all there for the uploader to step aside from.
    assert page.all("input", type="file", name="files") and page.all("button", type="submit")
    assert "/static/vendor/uppy/uppy.min.css" in page.stylesheets()
    scripts = page.scripts()
    assert scripts[-3:] == ["/static/js/upload.js", "/static/vendor/uppy/uppy.min.js",
                            "/static/js/uploader.js"]
    assert all("defer" in a for a in page.all("script"))
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


def test_a_new_version_form_takes_one_file(client, login_as, people):
    login_as(people["client"])
    case = people["case"]
    upload(client, documents_url(case), [("first.pdf", [PDF + b"one"])])
    document = db.session.query(Document).one()
    page = Page(client.get(f"/cases/{case.uuid}/documents/{document.uuid}").text)
    [form] = page.upload_forms()
    _assert_uploader_data(form, page, max_files=1)
    assert "/static/js/uploader.js" in page.scripts()


def test_message_form_hands_the_uploader_its_settings(client, login_as, people):
    login_as(people["client"])
    page = Page(client.get(f"/cases/{people['case'].uuid}/messages").text)
    [form] = page.upload_forms()
    _assert_uploader_data(form, page, max_files=MAX_FILES_PER_FORM)
    assert form["data-submission-id"]
    assert page.all("input", type="hidden", name="client_key")
    assert "/static/js/uploader.js" in page.scripts()


def test_the_case_page_hands_its_upload_links_one_uploader(app, client, login_as, people):
    case = people["case"]
    for title in ("Passport", "Bank statement"):
        requests.create_request(people["attorney"], case, title=title, instructions="",
                                addressee=people["client"], required=True, due_on=None)
    login_as(people["client"])
    page = Page(client.get(f"/cases/{case.uuid}").text)
    # No form per request: one "Upload" link each, naming the form it stands in for,
    # and the page's settings for the uploader they open.
    assert page.upload_forms() == []
    links = [a for a in page.all("a") if "data-upload-form" in a]
    # (a title the checklist knows, "Passport", reads in the client's Spanish)
    assert sorted(link["data-upload-title"] for link in links) == ["Bank statement", "Pasaporte"]
    assert all(link["data-upload-form"].endswith("/uploads") for link in links)
    [config] = page.all("div", id="uploader-config")
    _assert_uploader_data(config, page, max_files=1)
    assert "/static/js/uploader.js" in page.scripts()
    assert "/static/vendor/uppy/uppy.min.css" in page.stylesheets()


def test_uploader_config_partial_serves_upload_links(app, people):
    with app.test_request_context("/"):
        html = render_template("evidence/_uploader_config.html",
                               **upload_form_context(people["case"]))
    [config] = Page(html).all("div", id="uploader-config")
    assert "hidden" in config and config["data-max-files"] == "1"
    assert config["data-tus"] == "/uploads" and config["data-submission-id"]
    assert set(json.loads(config["data-strings"])) == STRING_KEYS


def test_firm_pages_without_upload_forms_load_no_uploader(client, login_as, people):
    login_as(people["attorney"])
    page = Page(client.get(f"/cases/{people['case'].uuid}").text)
    assert "/static/js/uploader.js" not in page.scripts()
    assert not [href for href in page.stylesheets() if "uppy" in href]
