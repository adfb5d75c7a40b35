"""Signing a person in in a browser page as they would: email and password,
then, for someone with an authenticator app, the code the app shows now.
Each page on the way is checked with axe-core (``check_accessibility``).

The firm's people must have a second factor in production, so the accounts
the browser tests make for them get an authenticator app whose secret the
tests know (``add_authenticator_app``). The portal takes a code once per
30-second step and person (it stores the last step used, and accepts the
step before and after now only if newer than that), so each person's
``Authenticator`` remembers the last step it gave, and gives a newer one, or
waits for the next step to begin when the next one is used too.
"""
from __future__ import annotations

import time

import pyotp

from portal.auth import totp
from portal.models import User
from portal.models.types import utcnow
from tests.browser.accessibility import check_accessibility

# The sign-in form's labels (email, password, button) in each browser language.
SIGN_IN = {"es": ("Correo electrónico", "Contraseña", "Iniciar sesión"),
           "en": ("Email", "Password", "Sign in")}
STEP = totp.STEP_SECONDS


class Authenticator:
    """A person's authenticator app, as the test holds it: the secret, and the
    last step whose code it gave (the portal refuses a step twice)."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.last_step: int | None = None

    def code(self) -> str:
        """A code the portal takes now: of the current step, or of the next
        one if the current one was used (the portal accepts one step either
        side of now, so either still holds if the request is a step late)."""
        while True:
            now = time.time()
            current = int(now // STEP)
            for step in (current, current + 1):
                if self.last_step is None or step > self.last_step:
                    self.last_step = step
                    return pyotp.TOTP(self.secret).generate_otp(step)
            time.sleep((current + 1) * STEP - now + 0.1)  # both used: wait for a new step


# Each person's app, by (the portal's base URL, email): every test module has
# a portal of its own (its own database), where the same email is a new person.
_APPS: dict[tuple[str, str], Authenticator] = {}


def remember_app(base: str, email: str, secret: str) -> Authenticator:
    """The app of ``email`` on the portal at ``base``, from now on used by
    ``sign_in`` (e.g. one set up in the browser, its secret read off the page)."""
    _APPS[(base, email)] = Authenticator(secret)
    return _APPS[(base, email)]


def authenticator(base: str, email: str) -> Authenticator | None:
    """The app the tests hold for ``email`` on the portal at ``base``, if any."""
    return _APPS.get((base, email))


def add_authenticator_app(user: User, base: str) -> Authenticator:
    """Give ``user`` an authenticator app with a new secret, as if they had
    set it up (in an app context; the caller commits)."""
    secret = totp.new_secret()
    user.totp_secret_sealed = totp.seal(user, secret)
    user.totp_added_at = utcnow()
    return remember_app(base, user.email, secret)


def enter_password(page, base: str, email: str, password: str,
                   labels: tuple[str, str, str] = SIGN_IN["en"]) -> None:
    """The first step: email and password on the sign-in form."""
    email_label, password_label, button = labels
    page.goto(f"{base}/login")
    check_accessibility(page)
    page.get_by_label(email_label).fill(email)
    page.get_by_label(password_label).fill(password)
    page.get_by_role("button", name=button, exact=True).click()


def enter_code(page, base: str, app: Authenticator) -> None:
    """The code step of sign-in: type the app's current code and continue
    (found by the field's one-time-code autocomplete, in any language)."""
    page.wait_for_url(f"{base}/login/verify")
    check_accessibility(page)
    form = page.locator("form", has=page.locator("input[autocomplete=one-time-code]"))
    form.locator("input[autocomplete=one-time-code]").fill(app.code())
    form.locator("button[type=submit]").click()


def sign_in(page, base: str, email: str, password: str,
            labels: tuple[str, str, str] = SIGN_IN["en"], *, lands_on: str = "/") -> None:
    """Sign in through the form, as a person would: the password, then the
    code of their app if the tests gave them one; waits for ``lands_on``."""
    enter_password(page, base, email, password, labels)
    app = authenticator(base, email)
    if app is not None:
        enter_code(page, base, app)
    page.wait_for_url(f"{base}{lands_on}")
    check_accessibility(page)
