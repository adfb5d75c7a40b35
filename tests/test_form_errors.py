"""Forms that say what is wrong (WCAG 2.1 AA 3.3.1, 3.3.3, 1.3.1, 4.1.2).

After a failed submit the page is shown again (200, not a redirect that
loses what was typed) with "There is a problem" at the top listing each
error as a link to its field; the field is ``aria-invalid`` and its
``aria-describedby`` names its error, shown beside it. A text longer than a
field allows is refused with a message giving the limit and the count, in
the reader's language and way of writing numbers, and nothing is saved.
"""
from __future__ import annotations

import html
import re
from datetime import date, time, timedelta

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from portal.cases import team
from portal.extensions import db
from portal.models import Case, DocumentRequest, RequestState, Role, User
from portal.requests import services
from portal.requests.forms import DecisionForm, RequestForm
from portal.uscis import appointments, expedite
from tests.conftest import PASSWORD
from tests.test_invitations import NEW_PASSWORD, invitation_link
from tests.uploads import PDF, upload

LONG_REASON = "x" * 100_000


def summary_links(page: str) -> list[tuple[str, str]]:
    """The error summary's links: (target id, text), in order."""
    match = re.search(r'<div class="error-summary"[^>]*data-error-summary>(.*?)</div>', page, re.S)
    assert match, "no error summary on the page"
    return [(target, html.unescape(re.sub(r"\s+", " ", text)).strip())
            for target, text in re.findall(r'<a href="#([^"]+)">(.*?)</a>', match.group(1), re.S)]


def control(page: str, field_id: str) -> str:
    """The start tag of the control with ``field_id``."""
    match = re.search(rf'<(?:input|textarea|select)\b[^>]*\bid="{re.escape(field_id)}"[^>]*>', page)
    assert match, f"no control with id {field_id}"
    return match.group(0)


def error_text(page: str, field_id: str) -> str:
    """The text of the error element beside ``field_id`` (ids ``<id>-error``)."""
    match = re.search(rf'<p class="error field-error" id="{re.escape(field_id)}-error">(.*?)</p>',
                      page, re.S)
    assert match, f"no error beside {field_id}"
    return html.unescape(re.sub(r"<[^>]+>", "", match.group(1))).strip()


def assert_tied(page: str, field_id: str) -> None:
    """``field_id`` is marked invalid and described by its error, which the page holds."""
    tag = control(page, field_id)
    assert 'aria-invalid="true"' in tag, tag
    described = re.search(r'aria-describedby="([^"]*)"', tag)
    assert described and f"{field_id}-error" in described.group(1).split(), tag
    assert f'id="{field_id}-error"' in page


def signed_in(app, user):
    """A fresh browser signed in as ``user``."""
    browser = app.test_client()
    assert browser.submit("/login", {"email": user.email, "password": PASSWORD}).status_code == 302
    return browser


# --- sign-in --------------------------------------------------------------------

def test_failed_sign_in_lists_each_error_and_ties_it_to_its_field(client):
    page = client.submit("/login", {"email": "", "password": ""})
    assert page.status_code == 200
    assert summary_links(page.text) == [("email", "Email: This field is required."),
                                        ("password", "Password: This field is required.")]
    assert "There is a problem" in page.text
    for field_id in ("email", "password"):
        assert_tied(page.text, field_id)
    # The summary takes the focus on load: it can (tabindex -1) and the script is there.
    assert re.search(r'class="error-summary" role="alert" tabindex="-1"', page.text)
    assert '<script src="/static/js/forms.js" defer></script>' in page.text


def test_a_wrong_password_is_said_under_the_password_and_in_the_summary(client, make_user):
    user = make_user(Role.CLIENT)
    page = client.submit("/login", {"email": user.email, "password": "not-the-password-1"})
    assert page.status_code == 200
    assert summary_links(page.text) == [
        ("password", "Password: The email or password is not correct.")]
    assert_tied(page.text, "password")
    assert 'aria-invalid' not in control(page.text, "email")  # nothing wrong with it alone


def test_failed_sign_in_speaks_spanish(client):
    page = client.submit("/login", {"email": "", "password": ""},
                         headers={"Accept-Language": "es"}).text
    assert "Hay un problema" in page
    assert summary_links(page)[0] == ("email", "Correo electrónico: Este campo es obligatorio.")
    assert error_text(page, "email") == "Error: Este campo es obligatorio."


# --- setting up an account ------------------------------------------------------

@pytest.fixture()
def invitation_page(app, client, make_user, make_case, mailbox):
    """A newcomer's browser holding an invitation link: (browser, case)."""
    attorney = make_user(Role.ATTORNEY)
    case = make_case(attorney=attorney)
    firm = signed_in(app, attorney)
    firm.submit(f"/cases/{case.uuid}/invite", {"name": "New Person", "case_role": "client",
                                               "email": "new.person@example.org",
                                               "language": "es"})
    newcomer = app.test_client()
    assert newcomer.get(invitation_link(mailbox)).status_code == 303
    return newcomer, case


def test_failed_account_set_up_ties_each_error_to_its_field(invitation_page):
    newcomer, _case = invitation_page
    page = newcomer.submit("/invitation", {"name": "", "password": NEW_PASSWORD,
                                           "confirm": NEW_PASSWORD + "x"},
                           headers={"Accept-Language": "es"})
    assert page.status_code == 200
    links = summary_links(page.text)
    assert [target for target, _text in links] == ["name", "confirm"]
    assert links[1][1] == "Repita la contraseña: Las dos contraseñas no coinciden."
    for field_id in ("name", "confirm"):
        assert_tied(page.text, field_id)
    # The password's hint stays named beside its error, the hint first.
    assert 'aria-describedby="password-hint"' in control(page.text, "password")
    assert db.session.scalar(select(func.count()).select_from(User).where(
        User.email == "new.person@example.org")) == 0


def test_an_overlong_name_is_refused_with_the_limit_and_the_count(invitation_page):
    newcomer, _case = invitation_page
    page = newcomer.submit("/invitation", {"name": "N" * 1234, "password": NEW_PASSWORD,
                                           "confirm": NEW_PASSWORD})
    assert page.status_code == 200
    # The invitation was in Spanish: so is the page, and its numbers.
    assert error_text(page.text, "name") == "Error: Como máximo 200 caracteres (ha escrito 1.234)."
    assert 'maxlength="200"' in control(page.text, "name")  # for browsers that heed it
    assert db.session.scalar(select(func.count()).select_from(User).where(
        User.email == "new.person@example.org")) == 0


# --- a request's decision on the case page -----------------------------------------

@pytest.fixture()
def submitted(app, make_user, make_case):
    """A request the client answered with a file: (attorney, client, case, request)."""
    attorney = make_user(Role.ATTORNEY)
    client = make_user(Role.CLIENT)
    case = make_case(attorney=attorney, client=client)
    request = services.create_request(attorney, case, addressee=client, title="Passport",
                                      instructions="", due_on=None, required=True)
    upload(signed_in(app, client), f"/cases/{case.uuid}/requests/{request.uuid}/uploads",
           [("passport.pdf", [PDF])])
    return attorney, client, case, request


def _decide(browser, case, request, reason):
    return browser.submit(f"/cases/{case.uuid}/requests/{request.uuid}/decision",
                          {"decision": "reject", "reason": reason, "seen": ""})


def _unchanged(request: DocumentRequest) -> None:
    db.session.expire_all()
    assert request.state is RequestState.SUBMITTED and request.rejection_reason is None


@pytest.mark.parametrize("language, message", [
    ("en", "At most 2,000 characters (you typed 100,000)."),
    ("es", "Como máximo 2.000 caracteres (ha escrito 100.000)."),
])
def test_a_100000_character_reason_is_refused_with_the_limit_and_nothing_is_saved(
        app, submitted, language, message):
    attorney, _client, case, request = submitted
    attorney.language = language  # a signed-in person reads their own language
    db.session.commit()
    page = _decide(signed_in(app, attorney), case, request, LONG_REASON)
    # The case page again, not "choose what to do" after a redirect.
    assert page.status_code == 200
    field_id = f"request-{request.uuid}-decision-reason"
    (link,) = summary_links(page.text)
    assert link[0] == field_id and link[1].endswith(message)
    assert_tied(page.text, field_id)
    assert error_text(page.text, field_id).endswith(message)
    # What was typed comes back in the field (the summary does not repeat it).
    assert page.text.count(LONG_REASON) == 1
    _unchanged(request)


def test_a_rejection_without_reason_is_shown_again_beside_the_reason(app, submitted):
    attorney, _client, case, request = submitted
    page = _decide(signed_in(app, attorney), case, request, "  ").text
    field_id = f"request-{request.uuid}-decision-reason"
    assert summary_links(page) == [(field_id, "Reason (the person will read it): Please say why "
                                              "the file is rejected: the person will read it.")]
    assert_tied(page, field_id)
    _unchanged(request)
    # Only the failed form carries errors; its siblings on the page are as they were.
    assert page.count('aria-invalid="true"') == 1


def test_the_language_switch_of_a_page_shown_again_returns_to_the_case(app, submitted):
    attorney, _client, case, request = submitted
    page = _decide(signed_in(app, attorney), case, request, "").text
    assert f'<input type="hidden" name="next" value="/cases/{case.uuid}">' in page


def test_each_case_page_form_shown_again_is_in_its_own_place(app, make_user, make_case):
    """The case page holds a form per appointment, team member, expedite
    request...: the one that failed is the one shown with the errors."""
    attorney, staff, client = (make_user(Role.ATTORNEY), make_user(Role.STAFF),
                               make_user(Role.CLIENT))
    case = make_case(attorney=attorney, client=client)
    soon = date.today() + timedelta(days=10)
    appointment = appointments.add_appointment(attorney, case, "biometrics", soon, time(9, 30),
                                               "ASC Miami")
    asked = expedite.request_expedite(attorney, case, date.today(), "life_threatening_medical")
    team.add_member(attorney, case, staff.uuid, "Translations")
    version = db.session.get(Case, case.id).version
    browser = signed_in(app, attorney)
    long = "x" * 4001
    for path, data, target in (
            (f"uscis/appointments/{appointment.uuid}/remove", {"version": version},
             f"uscis-{appointment.uuid}-remove-confirm"),
            (f"uscis/appointments/{appointment.uuid}/attended",
             {"on": date.today().isoformat(), "client_text": long},
             f"uscis-{appointment.uuid}-attended-client_text"),
            (f"uscis/expedite/{asked.uuid}/outcome",
             {"outcome": "granted", "outcome_on": date.today().isoformat(),
              "internal_note": long}, f"expedite-{asked.uuid}-outcome-internal_note"),
            (f"team/{staff.uuid}/remove", {"reason": ""}, f"team-{staff.uuid}-remove-reason"),
            ("requests", {"title": "", "addressee": str(client.uuid)}, "request-new-title"),
            ("close", {"version": version, "reason": ""}, "case-close_form-reason")):
        page = browser.submit(f"/cases/{case.uuid}/{path}", data)
        assert page.status_code == 200, path
        assert [link[0] for link in summary_links(page.text)] == [target]
        assert_tied(page.text, target)
        assert page.text.count('aria-invalid="true"') == 1, path
        # A folded form is open, so the field is there to read without a click.
        before = page.text[:page.text.index(f'id="{target}"')]
        if before.rfind("<details") > before.rfind("</details>"):
            assert re.match(r'<details( class="[^"]*")? open>', before[before.rfind("<details"):]), path
    db.session.expire_all()
    assert db.session.get(Case, case.id).version == version  # nothing was saved


# --- editing a case -------------------------------------------------------------

def test_failed_case_edit_ties_errors_to_fields_and_saves_nothing(app, make_user, make_case):
    attorney = make_user(Role.ATTORNEY)
    case = make_case(attorney=attorney, title="Surgery for Ana")
    browser = signed_in(app, attorney)
    page = browser.submit(f"/cases/{case.uuid}/edit", {
        "version": case.version, "title": "", "beneficiary_name": "B" * 201,
        "beneficiary_country": "VE", "attorney": str(attorney.uuid)})
    assert page.status_code == 200
    assert summary_links(page.text) == [
        ("title", "Title: This field is required."),
        ("beneficiary_name", "Beneficiary's full name: At most 200 characters (you typed 201).")]
    for field_id in ("title", "beneficiary_name"):
        assert_tied(page.text, field_id)
    # The title's hint and its error both describe it.
    assert 'aria-describedby="title-hint title-error"' in control(page.text, "title")
    db.session.expire_all()
    assert db.session.get(Case, case.id).title == "Surgery for Ana"


def test_failed_case_edit_speaks_spanish(app, make_user, make_case):
    attorney = make_user(Role.ATTORNEY, language="es")
    case = make_case(attorney=attorney)
    page = signed_in(app, attorney).submit(f"/cases/{case.uuid}/edit", {
        "version": case.version, "title": "T" * 250, "beneficiary_name": "Ana",
        "beneficiary_country": "VE", "attorney": str(attorney.uuid)}).text
    assert "Hay un problema" in page
    assert error_text(page, "title") == "Error: Como máximo 200 caracteres (ha escrito 250)."


# --- the validator itself --------------------------------------------------------

def test_a_line_break_counts_as_one_character_as_the_browser_counts_it(app):
    with app.test_request_context():
        typed = "a\r\n" * 1000  # 2,000 characters in the textarea, 3,000 on the wire
        form = DecisionForm(formdata=MultiDict({"decision": "reject", "reason": typed}),
                            meta={"csrf": False})
        assert form.validate(), form.errors
        form = DecisionForm(formdata=MultiDict({"decision": "reject", "reason": typed + "a"}),
                            meta={"csrf": False})
        assert not form.validate()
        assert form.reason.errors == ["At most 2,000 characters (you typed 2,001)."]


def test_the_limit_is_written_as_the_reader_writes_numbers(app):
    with app.test_request_context(), force_locale("ru"):
        form = RequestForm(formdata=MultiDict({"title": "т" * 1500, "addressee": "x"}),
                           meta={"csrf": False})
        form.addressee.choices = [("x", "X")]
        assert not form.validate()
        assert form.title.errors == ["Не более 200 символов (вы ввели 1\xa0500)."]
