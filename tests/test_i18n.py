"""Every string ships in English, Spanish and Russian."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from portal.case_types import extract_toml

CATALOGS = Path(__file__).resolve().parent.parent / "portal" / "translations"
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


@pytest.mark.parametrize("language", ["es", "ru"])
def test_catalog_translates_every_message_with_the_same_placeholders(language):
    with open(CATALOGS / language / "LC_MESSAGES" / "messages.po", "rb") as f:
        catalog = read_po(f)
    with open(CATALOGS / "messages.pot", "rb") as f:
        template = read_po(f)
    assert {m.id for m in template if m.id} <= {m.id for m in catalog if m.id}, \
        "catalog is behind the template: run make extract-messages and translate"
    for message in catalog:
        if not message.id:
            continue
        # A plural entry holds a tuple of ids and one of forms: every form is
        # translated and carries the placeholders of the ids.
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(forms), f"{language}: untranslated {message.id!r}"
        assert not message.fuzzy, f"{language}: fuzzy {message.id!r}"
        wanted = {p for text in ids for p in PLACEHOLDER.findall(text)}
        for form in forms:
            assert set(PLACEHOLDER.findall(form)) == wanted, (message.id, form)


def test_template_holds_every_case_type_text():
    with open(CATALOGS / "messages.pot", "rb") as f:
        template = {m.id for m in read_po(f)}
    for path in (CATALOGS.parent / "case_types").glob("*.toml"):
        with open(path, "rb") as f:
            texts = {text for _, _, text, _ in extract_toml(f, None, None, None)}
        assert texts and texts <= template, path.name


def test_login_page_follows_the_browser_language(client):
    spanish = client.get("/login", headers={"Accept-Language": "es-VE,es;q=0.9"})
    assert 'lang="es"' in spanish.text and "Iniciar sesión" in spanish.text
    russian = client.get("/login", headers={"Accept-Language": "ru"})
    assert 'lang="ru"' in russian.text and "Войти" in russian.text


def test_language_can_be_picked_before_signing_in(client):
    client.submit("/language", {"language": "ru"})
    assert 'lang="ru"' in client.get("/login", headers={"Accept-Language": "en"}).text


def test_signed_in_user_reads_their_language_including_case_type_texts(client, login_as,
                                                                       make_user, make_case):
    user = make_user("client", language="es")
    case = make_case(client=user, stage="intake")
    login_as(user)
    page = client.get(f"/cases/{case.uuid}").text
    assert 'lang="es"' in page
    assert "Intake" not in page and "What happens next" not in page


def test_invitation_email_is_written_in_the_chosen_language(client, login_as, make_user,
                                                            make_case, mailbox):
    attorney = make_user("attorney")
    case = make_case(attorney=attorney)
    login_as(attorney)
    client.submit(f"/cases/{case.uuid}/invite", {"name": "Иван", "email": "ivan@example.org",
                                                "case_role": "client", "language": "ru"})
    message = mailbox.messages[-1]
    assert re.search("[а-яА-Я]", message["Subject"]) and re.search("[а-яА-Я]", message.get_content())
