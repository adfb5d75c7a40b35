"""The firm's profile: its name, phone and logo, and its address, office hours
and privacy notice in each language the portal ships.

An operator writes them in a TOML file named by ``PORTAL_FIRM_PROFILE``::

    name = "Reyes & Okafor Immigration Law"
    phone = "+1 (213) 555-0147"
    logo = "logo.svg"              # SVG or PNG, relative to this file; optional

    [en]
    address = \"\"\"350 S Grand Ave, Suite 1200
    Los Angeles, CA 90071\"\"\"
    hours = "Monday to Friday, 9 am to 5:30 pm (Pacific time)"
    privacy = \"\"\"What the portal keeps ... (blank lines separate paragraphs)\"\"\"

    [es]   # and [ru]: the same three texts, each in its language

The file is read once at start-up and checked whole: every problem is a
``ProfileError`` whose message names the file and what is wrong with it.
"""
from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

TEXTS = ("address", "hours", "privacy")
TOP_LEVEL = ("name", "phone", "logo")
LOGO_TYPES = {".svg": "image/svg+xml", ".png": "image/png"}
LOGO_MAX_BYTES = 512 * 1024
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PHONE = re.compile(r"\+?[0-9][0-9 ().\-]*")
MIN_PHONE_DIGITS = 7


class ProfileError(ValueError):
    """A firm profile or logo the portal cannot show; the message says why."""


@dataclass(frozen=True)
class FirmTexts:
    """What the firm says in one language."""

    address: str
    hours: str
    privacy: str

    @property
    def address_lines(self) -> list[str]:
        return [line.strip() for line in self.address.splitlines() if line.strip()]

    @property
    def privacy_paragraphs(self) -> list[str]:
        """The notice's paragraphs (the operator separates them with a blank line)."""
        return [" ".join(part.split()) for part in re.split(r"\n\s*\n", self.privacy)
                if part.strip()]


@dataclass(frozen=True)
class Logo:
    """The logo's bytes as read at start-up, its type, and a digest naming this version."""

    data: bytes
    content_type: str
    digest: str


@dataclass(frozen=True)
class FirmProfile:
    """The firm as the pages show it. Without a profile file only ``name`` (and
    perhaps ``logo``) is set, and ``texts`` is empty: no footer, no privacy page."""

    name: str | None = None  # None: no name configured; pages say "Client portal"
    phone: str | None = None
    logo: Logo | None = None
    texts: dict[str, FirmTexts] = field(default_factory=dict)

    @property
    def tel(self) -> str | None:
        """The phone number as a ``tel:`` link wants it: digits, and a leading +."""
        if not self.phone:
            return None
        digits = re.sub(r"\D", "", self.phone)
        return "+" + digits if self.phone.lstrip().startswith("+") else digits

    def texts_for(self, language) -> FirmTexts | None:
        """The texts in ``language`` (a code or a babel ``Locale``), else in English;
        None without a profile."""
        code = str(getattr(language, "language", language) or "")
        return self.texts.get(code) or self.texts.get("en")


def read_logo(path: Path) -> Logo:
    """Read an SVG or PNG logo; raises ``ProfileError`` for a missing file, another
    type, a file whose content is not what its name says, one too large, or an SVG
    with a script in it."""
    content_type = LOGO_TYPES.get(path.suffix.lower())
    if content_type is None:
        raise ProfileError(f"{path}: must be an .svg or .png file")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ProfileError(f"{path}: cannot be read ({error.strerror or error})") from None
    if len(data) > LOGO_MAX_BYTES:
        raise ProfileError(f"{path}: larger than {LOGO_MAX_BYTES // 1024} KiB")
    if content_type == "image/png" and not data.startswith(PNG_SIGNATURE):
        raise ProfileError(f"{path}: is not a PNG image")
    if content_type == "image/svg+xml":
        text = data.decode("utf-8", errors="replace").lower()
        if "<svg" not in text:
            raise ProfileError(f"{path}: is not an SVG image")
        # A logo needs no script; one opened on its own would run on the portal's address.
        if "<script" in text or "javascript:" in text or re.search(r"\son\w+\s*=", text):
            raise ProfileError(f"{path}: contains a script; a logo must not")
    return Logo(data, content_type, hashlib.sha256(data).hexdigest())


def _text(data: dict, key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ProfileError(f"{where}{key} is missing or empty")
    return value.strip()


def load_profile(path: str | Path, languages: tuple[str, ...],
                 fallback_name: str | None = None) -> FirmProfile:
    """Read and check the profile at ``path``: ``name`` (else ``fallback_name``),
    ``phone``, an optional ``logo``, and a table per language in ``languages``
    holding ``address``, ``hours`` and ``privacy``.

    Raises ``ProfileError`` naming the file and its first problem: missing or
    unreadable, not TOML (with the line), a key or language it does not know
    (a typo would otherwise hide a text), a text missing or empty, a phone
    without enough digits, or a logo ``read_logo`` refuses.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ProfileError(f"{path}: cannot be read ({error.strerror or error})") from None
    except UnicodeDecodeError:
        raise ProfileError(f"{path}: is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as error:
        raise ProfileError(f"{path}: is not valid TOML ({error})") from None
    try:
        return _profile(data, path, languages, fallback_name)
    except ProfileError as error:
        raise ProfileError(f"{path}: {error}") from None


def _profile(data: dict, path: Path, languages: tuple[str, ...],
             fallback_name: str | None) -> FirmProfile:
    unknown = sorted(set(data) - set(TOP_LEVEL) - set(languages))
    if unknown:
        raise ProfileError(f"unknown key or language {', '.join(unknown)} (keys: "
                           f"{', '.join(TOP_LEVEL)}; languages: {', '.join(languages)})")
    name = data.get("name", fallback_name)
    if not isinstance(name, str) or not name.strip():
        raise ProfileError("name is missing: set name in the profile or PORTAL_FIRM_NAME")
    phone = _text(data, "phone", "")
    if not PHONE.fullmatch(phone) or len(re.sub(r"\D", "", phone)) < MIN_PHONE_DIGITS:
        raise ProfileError(f"phone {phone!r} is not a phone number (digits, spaces, + ( ) - .)")
    texts = {}
    for language in languages:
        table = data.get(language)
        if not isinstance(table, dict):
            raise ProfileError(f"[{language}] is missing: address, hours and privacy are "
                               "needed in every language (" + ", ".join(languages) + ")")
        extra = sorted(set(table) - set(TEXTS))
        if extra:
            raise ProfileError(f"[{language}] has unknown key {', '.join(extra)} "
                               f"(keys: {', '.join(TEXTS)})")
        texts[language] = FirmTexts(*(_text(table, key, f"[{language}] ") for key in TEXTS))
    logo = data.get("logo")
    if logo is not None and (not isinstance(logo, str) or not logo.strip()):
        raise ProfileError("logo must be the path of an .svg or .png file")
    try:
        return FirmProfile(name=name.strip(), phone=phone, texts=texts,
                           logo=read_logo(path.parent / logo) if logo else None)
    except ProfileError as error:
        raise ProfileError(f"logo {error}") from None
