"""The case page's own sections (``portal.cases.sections``): where the case
stands with the firm's controls, its people, and its timeline. Other
features offer theirs from their own blueprints."""
from __future__ import annotations

from collections.abc import Mapping

from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from portal.cases import invitations, team, timeline
from portal.cases.changes import distinct_ids
from portal.cases.countries import country_name
from portal.cases.forms import CloseForm, NoteForm, StageForm, TeamAddForm, TeamRemoveForm
from portal.cases.permissions import can_see_internal_notes, visible_members
from portal.cases.sections import Section
from portal.models import Case, User
from portal.models.types import utcnow


def overview(case: Case, user: User, page: Mapping) -> dict:
    """Where the case stands on its path; for the firm also the beneficiary
    and the controls that move, close or reopen the case."""
    case_type = page["case_type"]
    found = {"stage": case_type.stage(case.stage),
             "path": case_type.path(case.stage, timeline.visited_stages(case))}
    if user.is_firm:
        found["country"] = country_name(case.beneficiary_country, get_locale())
    if page["can_manage"]:
        stage_form = StageForm(version=case.version, formdata=None)
        stage_form.stage.choices = [(s.key, s.title) for s in case_type.stages
                                    if s.key != case.stage]
        found.update(distinct_ids("case", {
            "stage_form": stage_form,
            "close_form": CloseForm(version=case.version, formdata=None)}))
    return found


def people(case: Case, user: User, page: Mapping) -> dict:
    """The people ``user`` may see on the case; for the firm also its team,
    the invitations not yet accepted, and the forms that change them."""
    found = {"members": visible_members(user, case)}
    if page["can_manage"]:
        team_form = TeamAddForm(formdata=None)
        team_form.person.choices = [("", _("Choose…"))] + [
            (str(person.uuid), person.name) for person in team.candidates(case)]
        found.update(distinct_ids("case", {"team_form": team_form}))
        members = team.team(case)
        # One removal form per member (the assigned attorney is handed over instead).
        remove_forms = {m.user.uuid: distinct_ids(f"team-{m.user.uuid}", {
            "remove": TeamRemoveForm(formdata=None)})["remove"]
            for m in members if m.user_id != case.assigned_attorney_id}
        found.update(team=members, remove_forms=remove_forms,
                     pending_invitations=invitations.pending_invitations(case), now=utcnow())
    return found


def events(case: Case, user: User, page: Mapping) -> dict | None:
    """The timeline, newest first, for the firm and the client (it is the
    client's story, not a sponsor's); the firm also gets the note form."""
    if not page["show_story"]:
        return None
    found = {"events": timeline.events_for(user, case), "headline": timeline.headline,
             "show_internal": can_see_internal_notes(user)}
    if page["can_manage"]:
        found.update(distinct_ids("case", {"note_form": NoteForm(formdata=None)}))
    return found


# The firm reads the case from its overview; a client's page leads with what
# they must do (the requests' section, first for them), then where the case stands.
SECTIONS = (
    Section("overview", _l("Overview"), order=10, client_order=20,
            template="cases/_overview.html", context=overview),
    Section("people", _l("People"), order=40, client_order=60,
            template="cases/_people.html", context=people),
    Section("timeline", _l("Timeline"), order=60, client_order=50,
            template="cases/_timeline.html", context=events),
)
