"""The agenda page, its calendar link, and the calendar feed itself."""
from __future__ import annotations

from flask import (Blueprint, Response, abort, current_app, flash, redirect, render_template,
                   request, url_for)
from flask_babel import gettext as _
from flask_login import current_user

from portal.agenda import feeds, ics, services
from portal.agenda.permissions import can_choose_scope, can_use_agenda
from portal.errors import ServiceError
from portal.extensions import limiter
from portal.models.types import utcnow

bp = Blueprint("agenda", __name__)


def _require_agenda() -> None:
    if not can_use_agenda(current_user):
        abort(404)  # clients and sponsors must not learn the page exists


def _back():
    return redirect(url_for("agenda.show_agenda"), code=303)


@bp.route("/agenda")
def show_agenda():
    """Overdue and upcoming deadlines and appointments across the user's cases."""
    _require_agenda()
    choose_scope = can_choose_scope(current_user)
    attorneys = services.attorneys() if choose_scope else []
    scope = request.args.get("scope", "all") if choose_scope else "all"
    # "mine", or an attorney's UUID: the cases whose team that person is on.
    member = current_user if scope == "mine" else next(
        (a for a in attorneys if str(a.uuid) == scope), None)
    return render_template("agenda/agenda.html",
                           agenda=services.agenda(current_user, utcnow(), member),
                           can_choose_scope=choose_scope, attorneys=attorneys,
                           scope=scope if member is not None else "all",
                           feed=feeds.feed_of(current_user))


@bp.route("/agenda/calendar", methods=["POST"])
def issue_feed():
    """Create the user's calendar link, or renew it (the old one stops at
    once). The address is shown on this answer only: just its hash is kept."""
    _require_agenda()
    renewed = feeds.feed_of(current_user) is not None
    try:
        token = feeds.issue_feed(current_user)
    except ServiceError as error:
        flash(error.message, "error")
        return _back()
    url = feeds.feed_url(token)
    # webcal:// opens Apple Calendar's "subscribe" dialog; the feed is served over https.
    webcal_url = "webcal://" + url.split("://", 1)[1]
    return render_template("agenda/feed_link.html", url=url, webcal_url=webcal_url,
                           renewed=renewed)


@bp.route("/agenda/calendar/revoke", methods=["POST"])
def revoke_feed():
    """Turn the user's calendar link off."""
    _require_agenda()
    if feeds.revoke_feed(current_user):
        flash(_("Your calendar link was turned off. Calendars subscribed to it will stop "
                "updating."), "success")
    else:
        flash(_("You have no calendar link to turn off."), "error")
    return _back()


@bp.route("/calendar/<token>.ics")
@limiter.limit(lambda: current_app.config["CALENDAR_FEED_LIMIT"])
def calendar_feed(token: str):
    """The agenda as an iCalendar feed, for calendar apps (public: the
    secret address is the credential). Anything wrong is a plain 404."""
    now = utcnow()
    owner = feeds.open_feed(token, request.remote_addr, now)
    if owner is None:
        abort(404)
    response = Response(ics.calendar(owner, services.feed_items(owner, now), now),
                        content_type="text/calendar; charset=utf-8")
    response.headers["Cache-Control"] = "no-store"
    return response
