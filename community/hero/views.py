"""The hero's pages under /moderation: teams (working hours), and the rest of the week."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from community.accounts.access import moderator_required, team_required
from community.errors import DomainError, NotAllowed, NotFound
from community.extensions import db
from community.hero import services
from community.hero.forms import WorkingHoursForm
from community.moderation import queries as moderation_queries
from community.questions.models import Team

bp = Blueprint("hero", __name__, url_prefix="/moderation")


def _team_or_404(team_id: int) -> Team:
    team = db.session.get(Team, team_id)
    if team is None:
        abort(404)
    if not services.can_see_team(current_user, team.id):
        abort(403, "Only this team's members and moderators can see this.")
    return team


def _nav() -> dict:
    return {"queues": list(moderation_queries.Queue)}


@bp.get("/teams")
@moderator_required
def teams() -> str:
    listing = list(db.session.scalars(sa.select(Team).order_by(Team.name, Team.id)))
    return render_template(
        "hero/teams.html",
        teams=listing,
        hours={team.id: services.working_hours_of(team) for team in listing},
        **_nav(),
    )


@bp.get("/teams/<int:team_id>")
@team_required
def team(team_id: int) -> str:
    found = _team_or_404(team_id)
    return _team_page(found, _hours_form(found))


def _hours_form(team: Team) -> WorkingHoursForm:
    hours = services.working_hours_of(team)
    return WorkingHoursForm(
        formdata=None,
        timezone=hours.timezone,
        days=sorted(hours.days),
        start=hours.start,
        end=hours.end,
    )


def _team_page(team: Team, hours_form: WorkingHoursForm, status: int = 200):
    return render_template(
        "hero/team.html",
        team=team,
        hours=services.working_hours_of(team),
        hours_form=hours_form,
        **_nav(),
    ), status


@bp.post("/teams/<int:team_id>/hours")
@moderator_required
def team_hours(team_id: int) -> Response | tuple[str, int]:
    found = _team_or_404(team_id)
    form = WorkingHoursForm()
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:
            abort(400)
        return _team_page(found, form, 422)
    try:
        changed = services.set_working_hours(
            current_user,
            found,
            timezone=form.timezone.data,
            days=set(form.days.data),
            start=form.start.data,
            end=form.end.data,
        )
    except (NotAllowed, NotFound) as error:
        abort(error.status, str(error))
    except DomainError as error:
        db.session.rollback()
        form.end.errors = [*form.end.errors, str(error)]
        return _team_page(found, form, 422)
    db.session.commit()
    flash(
        "Working hours saved." if changed else "Nothing changed.",
        "success" if changed else "info",
    )
    return redirect(url_for("hero.team", team_id=found.id))
