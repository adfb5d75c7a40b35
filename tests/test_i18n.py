"""Every string ships in English, Spanish and Russian."""
from __future__ import annotations

import re

import pytest
from babel.messages.pofile import read_po

from portal.case_types import extract_toml
from tests.catalogs import (CATALOGS, TEMPLATE, catalog_problems, extract_source, read_catalog,
                            template_drift)


@pytest.mark.parametrize("language", ["es", "ru"])
def test_catalog_translates_every_message_with_the_same_placeholders(language):
    catalog = read_catalog(CATALOGS / language / "LC_MESSAGES" / "messages.po")
    problems = catalog_problems(catalog, read_catalog(TEMPLATE))
    assert not problems, f"{language}: " + "\n".join(problems)


def test_template_matches_the_source():
    new, gone = template_drift(read_catalog(TEMPLATE), extract_source())
    assert not new and not gone, (
        f"messages.pot is out of date (run make extract-messages and translate): "
        f"not in it {sorted(new, key=str)[:5]}, no longer in the source {sorted(gone, key=str)[:5]}")


def test_template_holds_every_case_type_text():
    with open(CATALOGS / "messages.pot", "rb") as f:
        template = {m.id for m in read_po(f)}
    for path in (CATALOGS.parent / "case_types").glob("*.toml"):
        with open(path, "rb") as f:
            texts = {text for _, _, text, _ in extract_toml(f, None, None, None)}
        assert texts and texts <= template, path.name


def test_login_page_follows_the_browser_language(client):
    spanish = client.get("/login", headers={"Accept-Language": "es-VE,es;q=0.9"})
    assert '<html lang="es"' in spanish.text and "Iniciar sesión" in spanish.text
    russian = client.get("/login", headers={"Accept-Language": "ru"})
    assert '<html lang="ru"' in russian.text and "Войти" in russian.text


def test_language_can_be_picked_before_signing_in(client):
    client.submit("/language", {"language": "ru"})
    assert '<html lang="ru"' in client.get("/login", headers={"Accept-Language": "en"}).text


def test_signed_in_user_reads_their_language_including_case_type_texts(client, login_as,
                                                                       make_user, make_case):
    user = make_user("client", language="es")
    case = make_case(client=user, stage="intake")
    login_as(user)
    page = client.get(f"/cases/{case.uuid}").text
    assert '<html lang="es"' in page
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
