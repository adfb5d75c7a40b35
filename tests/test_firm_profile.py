"""The firm's own face: its profile is checked at start-up, and its name, logo,
contact details and privacy notice show in the reader's language."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from portal import create_app
from portal.dev import demo
from portal.firm.profile import ProfileError, load_profile
from tests.conftest import PortalClient
from tests.test_config import COMPLETE

NAME = "Reyes & Okafor Immigration Law"
LANGUAGES = ("en", "es", "ru")
ENGLISH_HOURS = "Monday to Friday, 9 am to 5:30 pm (Pacific time)"
SPANISH_HOURS = "De lunes a viernes, de 9:00 a 17:30 (hora del Pacífico)"
RUSSIAN_PRIVACY = "Каждый файл шифруется перед сохранением"
ENGLISH_PRIVACY = "Every file is encrypted before it is stored"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 17


@pytest.fixture(scope="module")
def base_config(base_config):
    """Every app of this module shows the demo firm's profile (and logo)."""
    return {**base_config, "FIRM_PROFILE": str(demo.FIRM_PROFILE)}


def other_app(base_config, **changes):
    """A test app with the shared settings, changed."""
    app = create_app("testing", {**base_config, **changes})
    app.test_client_class = PortalClient
    return app


def profile_copy(tmp_path: Path, old: str = "", new: str = "") -> Path:
    """The demo profile (and its logo) copied to ``tmp_path``, with ``old`` replaced by ``new``."""
    (tmp_path / "demo_firm_logo.svg").write_bytes(
        demo.FIRM_PROFILE.with_name("demo_firm_logo.svg").read_bytes())
    text = demo.FIRM_PROFILE.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "firm.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


# --- the profile file --------------------------------------------------------

def test_demo_profile_gives_every_text_in_every_language():
    profile = load_profile(demo.FIRM_PROFILE, LANGUAGES)
    assert profile.name == NAME and profile.tel == "+12135550147"
    assert profile.logo.content_type == "image/svg+xml"
    hours = {language: profile.texts[language].hours for language in LANGUAGES}
    assert hours["en"] == ENGLISH_HOURS and hours["es"] == SPANISH_HOURS
    assert len(set(hours.values())) == 3
    for language in LANGUAGES:
        texts = profile.texts[language]
        assert "Los Angeles, CA 90010" in texts.address_lines
        sentences = re.findall(r"[.!?](?:\s|$)", " ".join(texts.privacy_paragraphs))
        assert 4 <= len(sentences) <= 6, language
    # A language the profile lacks reads English.
    assert profile.texts_for("fr") is profile.texts["en"]


@pytest.mark.parametrize("old, new, problem", [
    ("[ru]", "[rux]", "unknown key or language rux"),
    ("phone = ", "telephone = ", "unknown key or language telephone"),
    ('hours = "De lunes', 'hours = "" #', "[es] hours is missing or empty"),
    ('\naddress = """', '\nadress = """', "[en] has unknown key adress"),
    ('phone = "+1 (213) 555-0147"', 'phone = "call us"', "is not a phone number"),
    ('name = "Reyes', 'name = ["Reyes"] #', "name is missing"),
    ('logo = "demo_firm_logo.svg"', 'logo = "logo.gif"', "must be an .svg or .png file"),
    ('logo = "demo_firm_logo.svg"', 'logo = "absent.svg"', "cannot be read"),
    ("[en]", "[en", "is not valid TOML"),
])
def test_production_refuses_a_malformed_profile_and_says_what_is_wrong(tmp_path, old, new,
                                                                      problem):
    path = profile_copy(tmp_path, old, new)
    with pytest.raises(RuntimeError) as error:
        create_app("production", {**COMPLETE, "FIRM_PROFILE": str(path)})
    message = str(error.value)
    assert message.startswith("Refusing to start in production")
    assert f"PORTAL_FIRM_PROFILE {path}" in message and problem in message, message


def test_production_refuses_a_missing_profile_file_among_its_other_problems(tmp_path):
    with pytest.raises(RuntimeError) as error:
        create_app("production", {**COMPLETE, "SECRET_KEY": "short",
                                  "FIRM_PROFILE": str(tmp_path / "firm.toml")})
    message = str(error.value)
    assert "at least 32 bytes" in message
    assert f"PORTAL_FIRM_PROFILE {tmp_path / 'firm.toml'}: cannot be read" in message


def test_every_language_must_be_in_the_profile(tmp_path):
    text = demo.FIRM_PROFILE.read_text(encoding="utf-8")
    path = profile_copy(tmp_path, text[text.index("[ru]"):], "")
    with pytest.raises(ProfileError, match=r"\[ru\] is missing"):
        load_profile(path, LANGUAGES)


@pytest.mark.parametrize("name, content, problem", [
    ("logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
     "contains a script"),
    ("logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><rect onclick="x()"/></svg>',
     "contains a script"),
    ("logo.svg", b"GIF89a", "is not an SVG image"),
    ("logo.png", b"<svg></svg>", "is not a PNG image"),
    ("logo.png", PNG + b"\x00" * 512 * 1024, "larger than 512 KiB"),
])
def test_production_refuses_a_logo_it_should_not_serve(tmp_path, name, content, problem):
    logo = tmp_path / name
    logo.write_bytes(content)
    with pytest.raises(RuntimeError) as error:
        create_app("production", {**COMPLETE, "FIRM_LOGO": str(logo)})
    assert f"PORTAL_FIRM_LOGO {logo}: {problem}" in str(error.value)


def test_production_starts_with_a_good_profile_and_takes_its_name():
    app = create_app("production", {**COMPLETE, "FIRM_PROFILE": str(demo.FIRM_PROFILE)})
    # Authenticator apps, passkey prompts and emails read the same name.
    assert app.config["FIRM_NAME"] == NAME


def test_a_broken_profile_stops_development_too(base_config, tmp_path):
    with pytest.raises(RuntimeError, match="Refusing to start: PORTAL_FIRM_PROFILE"):
        other_app(base_config, FIRM_PROFILE=str(tmp_path / "absent.toml"))


# --- the pages ---------------------------------------------------------------

def test_header_shows_the_firm_name_and_logo(client):
    page = client.get("/login", headers={"Accept-Language": "en"}).text
    assert "<title>Sign in · Reyes &amp; Okafor Immigration Law</title>" in page
    header = page[page.index('<header class="site">'):page.index("</header>")]
    assert re.search(r'<img class="brand-logo" src="/firm/logo\?v=[0-9a-f]{16}" '
                     r'alt="Reyes &amp; Okafor Immigration Law">', header)
    assert '<span class="brand-name" aria-hidden="true">Reyes &amp; Okafor' in header
    assert "Client portal" not in page


def test_sign_in_page_welcomes_and_gives_the_phone_for_help(client):
    page = client.get("/login", headers={"Accept-Language": "en"}).text
    assert "Secure client portal of Reyes &amp; Okafor Immigration Law" in page
    assert ('Need help signing in? Call us at <a class="tel" href="tel:+12135550147">+1 (213) 555-0147</a>.'
            in page)
    spanish = client.get("/login", headers={"Accept-Language": "es"}).text
    assert "Portal seguro para clientes de Reyes &amp; Okafor Immigration Law" in spanish


def test_footer_shows_the_spanish_hours_to_a_spanish_reader(client, login_as, make_user):
    login_as(make_user("client", language="es"))
    page = client.get("/", headers={"Accept-Language": "en"}).text
    footer = page[page.index('<footer class="site">'):page.index("</footer>")]
    assert SPANISH_HOURS in footer and ENGLISH_HOURS not in footer
    assert "Estados Unidos" in footer
    assert '<a class="tel" href="tel:+12135550147">+1 (213) 555-0147</a>' in footer
    assert '<a href="/privacy">Privacidad</a>' in footer


def test_footer_is_on_the_sign_in_page_in_the_browser_language(client):
    page = client.get("/login", headers={"Accept-Language": "ru"}).text
    assert "тихоокеанское время" in page[page.index('<footer class="site">'):]


def test_privacy_page_is_public_and_in_the_readers_language(client):
    russian = client.get("/privacy", headers={"Accept-Language": "ru"})
    assert russian.status_code == 200 and RUSSIAN_PRIVACY in russian.text
    assert ENGLISH_PRIVACY not in russian.text
    english = client.get("/privacy", headers={"Accept-Language": "en"})
    assert english.status_code == 200 and ENGLISH_PRIVACY in english.text
    assert "<h1>Privacy notice</h1>" in english.text


def test_logo_route_serves_the_configured_file(client):
    response = client.get("/firm/logo")
    assert response.status_code == 200
    assert response.data == demo.FIRM_PROFILE.with_name("demo_firm_logo.svg").read_bytes()
    assert response.headers["Content-Type"] == "image/svg+xml"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response.headers["Content-Security-Policy"]
    cache = response.headers["Cache-Control"]
    assert "public" in cache and "max-age=31536000" in cache and "no-store" not in cache
    again = client.get("/firm/logo", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


def test_a_png_logo_without_a_profile_is_served_as_png(base_config, tmp_path):
    logo = tmp_path / "logo.png"
    logo.write_bytes(PNG)
    app = other_app(base_config, FIRM_PROFILE=None, FIRM_LOGO=str(logo))
    response = app.test_client().get("/firm/logo")
    assert response.data == PNG and response.headers["Content-Type"] == "image/png"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_nothing_shows_without_a_profile(base_config):
    client = other_app(base_config, FIRM_PROFILE=None, FIRM_LOGO=None).test_client()
    page = client.get("/login", headers={"Accept-Language": "en"}).text
    assert "<title>Sign in · Client portal</title>" in page
    assert "<footer" not in page and "/firm/logo" not in page and "tel:" not in page
    assert "Secure client portal of" not in page
    assert client.get("/privacy").status_code == 404
    assert client.get("/firm/logo").status_code == 404


def test_without_a_profile_the_name_alone_shows(base_config):
    client = other_app(base_config, FIRM_PROFILE=None, FIRM_NAME="Díaz Law").test_client()
    page = client.get("/login", headers={"Accept-Language": "en"}).text
    assert "<title>Sign in · Díaz Law</title>" in page
    assert '<span class="brand-name">Díaz Law</span>' in page
    assert "Secure client portal of Díaz Law" in page
    assert "<footer" not in page and "tel:" not in page
