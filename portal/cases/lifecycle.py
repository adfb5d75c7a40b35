"""Opening a case and editing its details: the firm's side of a case's life
before and around its stages (``portal.cases.stages`` moves, closes and
reopens it).

Opening is one transaction: the case at its type's first step with a fresh
reference, the assigned attorney on it, its first timeline event, and the
client and sponsors invited or added. Any refusal leaves nothing behind.
Edits are checked against the case ``version`` the person saw, like stage
moves, and are the firm's own business: no timeline event, and the audit
trail names the fields changed, never their values (titles hold medical
facts).
"""
from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm.attributes import flag_modified

from portal import audit
from portal.auth.services import find_user, normalize_email
from portal.case_types import case_types
from portal.cases import team, timeline
from portal.cases.countries import country_codes
from portal.cases.invitations import add_to_case
from portal.cases.permissions import can_manage_case, can_open_case, case_role
from portal.cases.references import allocate
from portal.cases.stages import CaseChanged, commit_change
from portal.errors import ServiceError
from portal.extensions import db
from portal.models import Case, CaseFlag, CaseMembership, Role, User
from portal.models.case import CaseRole, UrgencyFlag
from portal.models.types import utcnow

TITLE_MAX = NAME_MAX = 200


@dataclass(frozen=True)
class CaseDetails:
    """What the firm types about a case, as it came from the form."""

    title: str
    beneficiary_name: str
    beneficiary_country: str  # ISO 3166 alpha-2
    flags: Sequence[str | UrgencyFlag]
    attorney_uuid: str  # the attorney to assign


@dataclass(frozen=True)
class Handover:
    """What goes with a change of attorney: whether the attorney before
    stays on the case team, and why the case changes hands."""

    keep_previous: bool = False
    reason: str = ""


@dataclass(frozen=True)
class Invitee:
    """A client or sponsor to invite, as typed; a row with neither name nor
    email is no one."""

    name: str
    email: str
    language: str

    @property
    def blank(self) -> bool:
        return not ((self.name or "").strip() or (self.email or "").strip())


@dataclass(frozen=True)
class _Clean:
    title: str
    beneficiary_name: str
    beneficiary_country: str
    flags: frozenset[UrgencyFlag]
    attorney: User


def attorneys() -> list[User]:
    """The firm's active attorneys, by name: who a case may be assigned to."""
    return list(db.session.scalars(select(User).where(User.role == Role.ATTORNEY,
                                                      User.active.is_(True))
                                   .order_by(User.name, User.id)))


def _attorney(attorney_uuid: str, keep: User | None = None) -> User:
    """The active attorney with ``attorney_uuid`` (or ``keep``, the case's
    attorney now, even if no longer active: leaving them is no change)."""
    try:
        wanted = uuid.UUID(str(attorney_uuid))
    except ValueError:
        wanted = None
    if keep is not None and keep.uuid == wanted:
        return keep
    user = db.session.scalar(select(User).where(User.uuid == wanted)) if wanted else None
    if user is None or user.role is not Role.ATTORNEY or not user.active:
        raise ServiceError(_l("Choose one of the firm's attorneys."))
    return user


def _clean(details: CaseDetails, keep_attorney: User | None = None) -> _Clean:
    """``details`` checked and tidied; raises ``ServiceError`` for the first problem."""
    title = (details.title or "").strip()
    name = (details.beneficiary_name or "").strip()
    country = (details.beneficiary_country or "").strip().upper()
    if not title:
        raise ServiceError(_l("Give the case a title."))
    if not name:
        raise ServiceError(_l("Give the beneficiary's name."))
    if len(title) > TITLE_MAX or len(name) > NAME_MAX:
        raise ServiceError(_l("The title and the beneficiary's name may have at most "
                              "200 characters each."))
    if country not in country_codes():
        raise ServiceError(_l("Choose the beneficiary's country from the list."))
    try:
        flags = frozenset(UrgencyFlag(flag) for flag in details.flags)
    except ValueError:
        raise ServiceError(_l("Choose urgency flags from the list.")) from None
    return _Clean(title, name, country, flags, _attorney(details.attorney_uuid, keep_attorney))


def _people(client: Invitee, sponsors: Iterable[Invitee]) -> list[tuple[Invitee, CaseRole]]:
    """The people to invite, checked before anything is written: each with a
    name, an email of their own and a language, none of them the firm's."""
    languages = current_app.config["LANGUAGES"]
    if client.blank or not (client.name or "").strip() or not (client.email or "").strip():
        raise ServiceError(_l("Give the client's name and email."))
    people = [(client, CaseRole.CLIENT)]
    for sponsor in sponsors:
        if sponsor.blank:
            continue
        if not (sponsor.name or "").strip() or not (sponsor.email or "").strip():
            raise ServiceError(_l("Give each sponsor's name and email, or leave the row empty."))
        people.append((sponsor, CaseRole.SPONSOR))
    seen = set()
    for person, _role in people:
        email = normalize_email(person.email)
        if "@" not in email or len(email) > 254:
            raise ServiceError(_l("Enter a valid email address."))
        if len(person.name.strip()) > NAME_MAX:
            raise ServiceError(_l("A name may have at most 200 characters."))
        if email in seen:
            raise ServiceError(_l("%(email)s is given twice. Each person needs an email "
                                  "address of their own.", email=email))
        seen.add(email)
        if person.language not in languages:
            raise ServiceError(_l("Choose the language of each invitation."))
        user = find_user(email)
        if user is not None and user.is_firm:
            raise ServiceError(_l("%(email)s belongs to a firm account. Invite the client and "
                                  "sponsors at their own addresses.", email=email))
    return people


def open_case(actor: User, case_type: str, details: CaseDetails, client: Invitee,
              sponsors: Sequence[Invitee] = (), keep_me: bool = False) -> Case:
    """Open a case of ``case_type`` at its first step, with the next
    reference of its prefix and the current UTC year, assigned to the
    attorney ``details`` names (who joins the case's team), and invite the
    client and each sponsor (an existing client or sponsor account is added
    at once). ``actor``, if an attorney or staff member other than the one
    assigned, joins the team only with ``keep_me``. Audited as
    ``case.opened``; one commit.

    Raises ``ServiceError`` (and saves nothing) if ``actor`` may not open
    cases, for an unknown case type, a missing title or name, a country not
    on the list, someone not an active attorney, a person without a name or
    email, an email given twice or belonging to the firm.
    """
    if not can_open_case(actor):
        raise ServiceError(_l("You do not have permission to do that."))
    kind = case_types().get(case_type or "")
    if kind is None:
        raise ServiceError(_l("Choose a type of case."))
    clean = _clean(details)
    people = _people(client, sponsors)
    try:
        case = Case(reference=allocate(kind.reference_prefix, utcnow().year),
                    case_type=kind.key, title=clean.title,
                    beneficiary_name=clean.beneficiary_name,
                    beneficiary_country=clean.beneficiary_country,
                    assigned_attorney=clean.attorney, stage=kind.steps[0].key,
                    flags=[CaseFlag(flag=flag) for flag in clean.flags])
        case.memberships = [CaseMembership(user=clean.attorney, role=CaseRole.ATTORNEY)]
        if keep_me and actor.role in team.TEAM_ROLES:
            team.join(case, actor)
        db.session.add(case)
        db.session.flush()  # the case's id, for the event, the audit and the invitations
        # Before the client joins: add_event notifies the case's clients, and
        # each person invited or added below gets an email of their own.
        timeline.add_event(actor, case, "case.opened")
        audit.record("case.opened", actor=actor, case=case, target=str(case.uuid),
                     reference=case.reference, case_type=kind.key,
                     attorney=str(clean.attorney.uuid),
                     opener_on_team=case_role(actor, case) is not None)
        for person, role in people:
            add_to_case(actor, case, person.email, person.name.strip(), role, person.language)
        db.session.commit()
    except ServiceError:
        db.session.rollback()
        raise
    return case


def edit_case(actor: User, case: Case, seen_version: int | None,
              details: CaseDetails, handover: Handover = Handover()) -> list[str]:
    """Change ``case``'s title, beneficiary, urgency flags and assigned
    attorney; returns the names of the fields changed (none: nothing saved).

    A new attorney joins the case's team, and the one before leaves it unless
    ``handover.keep_previous`` (``case.reassigned``, from and to user UUIDs,
    whether the previous one stays, and ``handover.reason``, required for a
    reassignment); other changes are audited as ``case.updated`` with the
    fields' names, not their values. No timeline event: details are the
    firm's. Raises ``ServiceError`` if ``actor`` may not manage the case, a
    detail is refused (as for ``open_case``) or a reassignment has no reason,
    ``CaseChanged`` if the case changed since ``seen_version``.
    """
    if not can_manage_case(actor, case):
        raise ServiceError(_l("You do not have permission to do that."))
    if seen_version is not None and seen_version != case.version:
        raise CaseChanged()
    clean = _clean(details, keep_attorney=case.assigned_attorney)
    wanted = {"title": clean.title, "beneficiary_name": clean.beneficiary_name,
              "beneficiary_country": clean.beneficiary_country}
    changed = [field for field, value in wanted.items() if getattr(case, field) != value]
    current_flags = {row.flag for row in case.flags}
    if current_flags != clean.flags:
        changed.append("flags")
    reassigned = case.assigned_attorney_id != clean.attorney.id
    if not changed and not reassigned:
        return []
    reason = (handover.reason or "").strip()
    if reassigned and not reason:
        raise ServiceError(_l("Please say why the case goes to another attorney: the reason "
                              "is kept in the audit trail."))
    if len(reason) > team.REASON_MAX:
        raise ServiceError(_l("The reason may have at most 500 characters."))

    def change():
        for field, value in wanted.items():
            setattr(case, field, value)
        for row in [r for r in case.flags if r.flag not in clean.flags]:
            case.flags.remove(row)  # deleted: the relationship owns its rows
        case.flags.extend(CaseFlag(flag=flag) for flag in clean.flags - current_flags)
        # Flags live in their own table: touch the case row anyway, so every
        # edit raises the version and a concurrent one is refused.
        flag_modified(case, "title")
        if changed:
            audit.record("case.updated", actor=actor, case=case, target=str(case.uuid),
                         fields=changed)
        if reassigned:
            _reassign(actor, case, clean.attorney, handover.keep_previous, reason)

    commit_change(case, change)
    return changed + (["assigned_attorney"] if reassigned else [])


def _reassign(actor: User, case: Case, attorney: User, keep_previous: bool, reason: str) -> None:
    """Hand ``case`` to ``attorney``: they join the team, the attorney before
    leaves it unless kept (an attorney no longer on the team no longer opens
    the case). The caller commits."""
    before = case.assigned_attorney
    case.assigned_attorney = attorney
    team.join(case, attorney)
    if before is not None and not keep_previous:
        team.leave(case, before)
    audit.record("case.reassigned", actor=actor, case=case, target=str(case.uuid),
                 from_user=str(before.uuid) if before else None, to_user=str(attorney.uuid),
                 previous_kept=bool(before and keep_previous), reason=reason)
