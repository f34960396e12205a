"""The hero's pages under /moderation: teams (working hours), and the rest of the week."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import timedelta

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from community.accounts.access import moderator_required, team_required
from community.db import utcnow
from community.errors import DomainError, NotAllowed, NotFound
from community.extensions import db
from community.hero import answering, charts, handoffs, metrics, queries, services
from community.hero.forms import (
    FeatureRequestForm,
    FollowUpForm,
    ImportForm,
    RotationForm,
    SavedReplyForm,
    SwapForm,
    WorkingHoursForm,
)
from community.hero.ics import MAX_BYTES as ICS_MAX_BYTES
from community.hero.models import Handoff
from community.moderation import queries as moderation_queries
from community.questions import permissions
from community.questions.forms import ActionForm
from community.questions.models import Question, Team
from community.web import act_and_redirect, safe_next_url

WEEKS_SHOWN = 6

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
def team(team_id: int) -> tuple[str, int]:
    found = _team_or_404(team_id)
    return _team_page(found)


def _hours_form(team: Team) -> WorkingHoursForm:
    hours = services.working_hours_of(team)
    return WorkingHoursForm(
        formdata=None,
        timezone=hours.timezone,
        days=sorted(hours.days),
        start=hours.start,
        end=hours.end,
    )


def _rotation_form(duty: queries.TeamDuty) -> RotationForm:
    members = [duty.people[user_id].email for user_id in duty.schedule.members]
    return RotationForm(
        formdata=None,
        members="\n".join(members),
        starts_on=duty.schedule.starts_on or duty.schedule.week_start(duty.today),
    )


def _team_page(team: Team, status: int = 200, **forms: object) -> tuple[str, int]:
    duty = queries.duty(team.id)
    moderating = permissions.is_staff(current_user)
    return render_template(
        "hero/team.html",
        team=team,
        duty=duty,
        weeks=duty.schedule.weeks(duty.today, WEEKS_SHOWN),
        overrides=queries.team_overrides(team.id, duty.today),
        hours_form=forms.get("hours_form") or _hours_form(team),
        rotation_form=forms.get("rotation_form") or (_rotation_form(duty) if moderating else None),
        swap_form=forms.get("swap_form") or SwapForm(formdata=None),
        import_form=forms.get("import_form") or ImportForm(formdata=None),
        candidates=queries.staff_candidates(team.id) if moderating else [],
        skipped=forms.get("skipped") or [],
        **_nav(),
    ), status


def _configure(
    team_id: int, form: FlaskForm, form_name: str, change: Callable[[Team], object], done: str
) -> Response | tuple[str, int]:
    """Validate ``form``, run ``change`` (a service) and commit; on a refusal show the team's
    page again with the form's errors (422)."""
    found = _team_or_404(team_id)
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:
            abort(400)
        return _team_page(found, 422, **{form_name: form})
    try:
        result = change(found)
    except (NotAllowed, NotFound) as error:
        abort(error.status, str(error))
    except DomainError as error:
        db.session.rollback()
        first = next(iter(f for f in form if f.name != "csrf_token"))
        first.errors = [*first.errors, str(error)]
        return _team_page(db.session.get(Team, team_id), 422, **{form_name: form})
    db.session.commit()
    if isinstance(result, services.ImportResult) and result.skipped:
        flash(done.format(result=result), "success")
        return _team_page(db.session.get(Team, team_id), 200, skipped=result.skipped)
    if result is False:
        flash("Nothing changed.", "info")
    else:
        flash(done.format(result=result), "success")
    return redirect(url_for("hero.team", team_id=team_id))


@bp.post("/teams/<int:team_id>/hours")
@moderator_required
def team_hours(team_id: int) -> Response | tuple[str, int]:
    form = WorkingHoursForm()
    return _configure(
        team_id,
        form,
        "hours_form",
        lambda team: services.set_working_hours(
            current_user,
            team,
            timezone=form.timezone.data,
            days=set(form.days.data),
            start=form.start.data,
            end=form.end.data,
        ),
        "Working hours saved.",
    )


@bp.post("/teams/<int:team_id>/rotation")
@moderator_required
def rotation(team_id: int) -> Response | tuple[str, int]:
    form = RotationForm()
    return _configure(
        team_id,
        form,
        "rotation_form",
        lambda team: services.set_rotation(
            current_user, team, (form.members.data or "").splitlines(), form.starts_on.data
        ),
        "Rotation saved.",
    )


@bp.post("/teams/<int:team_id>/swaps")
@moderator_required
def swap(team_id: int) -> Response | tuple[str, int]:
    form = SwapForm()
    return _configure(
        team_id,
        form,
        "swap_form",
        lambda team: services.swap(
            current_user,
            team,
            queries.duty(team.id, since=min(form.first.data, form.second.data)).schedule,
            form.first.data,
            form.second.data,
            whole_week=form.scope.data == "week",
        ),
        "Swapped.",
    )


@bp.post("/teams/<int:team_id>/overrides/<int:override_id>/remove")
@moderator_required
def remove_override(team_id: int, override_id: int) -> Response | tuple[str, int]:
    return _configure(
        team_id,
        ActionForm(),
        "action_form",
        lambda team: services.remove_override(current_user, team, override_id),
        "Removed: the order applies again on those days.",
    )


@bp.post("/teams/<int:team_id>/rotation/import")
@moderator_required
def import_schedule(team_id: int) -> Response | tuple[str, int]:
    form = ImportForm()
    return _configure(
        team_id,
        form,
        "import_form",
        lambda team: services.import_schedule(
            current_user,
            team,
            form.schedule.data.read(ICS_MAX_BYTES + 1),
            queries.duty(team.id).today,
        ),
        "Imported {result.imported} shifts.",
    )


# -- my team --------------------------------------------------------------------------------------


@bp.get("/my-team")
@team_required
def my_team() -> str:
    """The team's week for its members (the on-duty hero first of all): who is on duty, and
    the team's questions waiting for a first response or an answer again."""
    wanted = request.args.get("team", type=int)
    team_id = current_user.team_id
    if wanted is not None and 0 < wanted < 2**31 and services.can_see_team(current_user, wanted):
        team_id = wanted
    if team_id is None and permissions.is_staff(current_user):
        team_id = db.session.scalar(sa.select(Team.id).order_by(Team.name, Team.id).limit(1))
    found = db.session.get(Team, team_id) if team_id is not None else None
    if found is None:
        return render_template("hero/my_team.html", team=None, **_nav())
    duty = queries.duty(found.id)
    filters = moderation_queries.QueueFilters(team=found)
    return render_template(
        "hero/my_team.html",
        team=found,
        duty=duty,
        weeks=duty.schedule.weeks(duty.today, 2),
        first_response=moderation_queries.queue_page(
            moderation_queries.Queue.FIRST_RESPONSE, filters
        ),
        waiting=moderation_queries.queue_page(moderation_queries.Queue.WAITING, filters),
        teams=list(db.session.scalars(sa.select(Team).order_by(Team.name, Team.id)))
        if permissions.is_staff(current_user)
        else [],
        **_nav(),
    )


# -- the hand-off ---------------------------------------------------------------------------------


@bp.get("/teams/<int:team_id>/handoff")
@team_required
def handoff(team_id: int) -> str:
    found = _team_or_404(team_id)
    duty = queries.duty(found.id, since=utcnow().date() - timedelta(days=9))
    this_week, last_week = handoffs.current_week(duty), handoffs.previous_week(duty)
    sent = queries.handoffs(found.id, [this_week.starts_on, last_week.starts_on])
    return render_template(
        "hero/handoff.html",
        team=found,
        duty=duty,
        this_week=this_week,
        last_week=last_week,
        this_handoff=sent.get(this_week.starts_on),
        last_handoff=sent.get(last_week.starts_on),
        items=queries.open_items(found.id),
        **_nav(),
    )


@bp.post("/teams/<int:team_id>/handoff/send")
@team_required
def send_handoff(team_id: int) -> Response:
    found = _team_or_404(team_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    week = handoffs.current_week(queries.duty(found.id))
    return act_and_redirect(
        url_for("hero.handoff", team_id=found.id),
        lambda: handoffs.send(current_user, found, week),
        "Handed over: the next hero has it by email.",
    )


@bp.post("/handoffs/<int:handoff_id>/acknowledge")
@team_required
def acknowledge_handoff(handoff_id: int) -> Response:
    found = db.session.get(Handoff, handoff_id)
    if found is None:
        abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    return act_and_redirect(
        url_for("hero.handoff", team_id=found.team_id),
        lambda: handoffs.acknowledge(current_user, found),
        "Acknowledged: the week is yours.",
    )


# -- thread tools ---------------------------------------------------------------------------------


def _question_action(question_id: int, action: Callable[[Question], object], done: str) -> Response:
    question = db.session.get(Question, question_id)
    if question is None:
        abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    back = safe_next_url(request.form.get("next")) or url_for(
        "questions.show", question_id=question.id, slug=question.slug
    )
    return act_and_redirect(back, lambda: action(question), done)


@bp.post("/questions/<int:question_id>/urgent")
@moderator_required
def mark_urgent(question_id: int) -> Response:
    return _question_action(
        question_id, lambda q: services.set_urgent(current_user, q, True), "Tagged urgent."
    )


@bp.post("/questions/<int:question_id>/not-urgent")
@moderator_required
def unmark_urgent(question_id: int) -> Response:
    return _question_action(
        question_id, lambda q: services.set_urgent(current_user, q, False), "No longer urgent."
    )


# -- answering well -------------------------------------------------------------------------------


def _scope_choices() -> list[SelectChoice]:
    choices = [SelectChoice("personal", "Only me")]
    if permissions.is_staff(current_user):
        teams = db.session.scalars(sa.select(Team).order_by(Team.name, Team.id))
        choices += [SelectChoice(str(t.id), f"The {t.name} team") for t in teams]
    elif current_user.team_id is not None:
        team = db.session.get(Team, current_user.team_id)
        choices.append(SelectChoice(str(team.id), f"The {team.name} team"))
    return choices


@bp.route("/saved-replies", methods=["GET", "POST"])
@team_required
def saved_replies() -> Response | tuple[str, int]:
    form = SavedReplyForm()
    form.scope.choices = _scope_choices()
    if request.method == "POST":
        if form.validate_on_submit():
            team = db.session.get(Team, int(form.scope.data)) if form.scope.data.isdigit() else None
            try:
                answering.add_saved_reply(current_user, form.title.data, form.body.data, team)
            except (NotAllowed, NotFound) as error:
                abort(error.status, str(error))
            except DomainError as error:
                db.session.rollback()
                form.body.errors = [*form.body.errors, str(error)]
            else:
                db.session.commit()
                flash("Saved: it is offered above the reply box on every thread.", "success")
                return redirect(url_for("hero.saved_replies"))
        elif "csrf_token" in form.errors:
            abort(400)
    teams = {t.id: t for t in db.session.scalars(sa.select(Team))}
    return render_template(
        "hero/saved_replies.html",
        form=form,
        replies=answering.saved_replies(current_user),
        teams=teams,
        **_nav(),
    ), (422 if form.errors else 200)


@bp.post("/saved-replies/<int:saved_id>/delete")
@team_required
def delete_saved_reply(saved_id: int) -> Response:
    saved = answering.visible_saved_reply(current_user, saved_id)
    if saved is None:
        abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    return act_and_redirect(
        url_for("hero.saved_replies"),
        lambda: answering.delete_saved_reply(current_user, saved),
        "Removed.",
    )


def _thread_form(
    question_id: int, form: FlaskForm, action: Callable[[Question], object], done: str
) -> Response:
    question = db.session.get(Question, question_id)
    if question is None:
        abort(404)
    back = url_for("questions.show", question_id=question.id, slug=question.slug)
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:
            abort(400)
        for errors in form.errors.values():
            flash(" ".join(errors), "error")
        return redirect(back + "#hero-tools")
    return act_and_redirect(back + "#hero-tools", lambda: action(question), done)


@bp.post("/questions/<int:question_id>/feature-request")
@team_required
def feature_request(question_id: int) -> Response:
    form = FeatureRequestForm()
    return _thread_form(
        question_id,
        form,
        lambda q: answering.link_feature_request(current_user, q, form.issue_url.data),
        "Linked: the asker has a reply with the issue, and the question is tagged.",
    )


@bp.post("/questions/<int:question_id>/follow-up")
@team_required
def follow_up(question_id: int) -> Response:
    form = FollowUpForm()
    return _thread_form(
        question_id,
        form,
        lambda q: answering.set_follow_up(current_user, q, form.due_on.data, form.note.data or ""),
        "Follow-up set: it tops your queue on that day, and you get one email.",
    )


@bp.post("/questions/<int:question_id>/follow-up/done")
@team_required
def follow_up_done(question_id: int) -> Response:
    return _question_action(
        question_id, lambda q: answering.finish_follow_up(current_user, q), "Follow-up done."
    )


@bp.get("/feature-requests")
@team_required
def feature_requests() -> str:
    return render_template(
        "hero/feature_requests.html", issues=queries.feature_requests(), **_nav()
    )


# -- metrics --------------------------------------------------------------------------------------


def _metrics_report() -> tuple[metrics.Report, list[Team], Team | None, int]:
    teams = list(db.session.scalars(sa.select(Team).order_by(Team.name, Team.id)))
    slug = request.args.get("team", "")
    chosen = next((t for t in teams if t.slug == slug), None)
    weeks = request.args.get("weeks", 8, type=int)
    weeks = min(max(weeks, 1), metrics.MAX_WEEKS)
    return metrics.report(utcnow(), weeks, chosen, teams), teams, chosen, weeks


@bp.get("/metrics")
@team_required
def metrics_page() -> str:
    report, teams, chosen, weeks = _metrics_report()
    return render_template(
        "hero/metrics.html",
        report=report,
        teams=teams,
        chosen=chosen,
        weeks=weeks,
        charts=charts,
        metrics=metrics,
        **_nav(),
    )


CSV_INJECTION = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    # A spreadsheet would run a cell starting like a formula (a team called "=HYPERLINK(...)").
    return "'" + text if text.startswith(CSV_INJECTION) else text


@bp.get("/metrics.csv")
@team_required
def metrics_csv() -> Response:
    report, _teams, _chosen, _weeks = _metrics_report()
    targets = report.targets
    great, okay, late = (
        int(limit.total_seconds() // 60) for limit in (targets.great, targets.okay, targets.late)
    )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        [
            "team",
            "week_starting",
            "asked",
            "answered",
            "median_first_response_seconds",
            "p90_first_response_seconds",
            f"share_within_{great}_min",
            f"share_within_{okay}_min",
            f"share_within_{late}_min",
            "share_resolved",
            *(f"open_{p}_now" for p in queries.PRIORITIES),
        ]
    )
    for team in report.teams:
        for week in team.weeks:
            writer.writerow(
                [
                    _cell(team.name),
                    week.week.isoformat(),
                    week.asked,
                    week.answered,
                    _cell(week.median_seconds),
                    _cell(week.p90_seconds),
                    *(_share(s) for s in week.shares_within),
                    _share(week.share_resolved),
                    *(team.backlog.get(p, 0) for p in queries.PRIORITIES),
                ]
            )
    response = Response(out.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="community-metrics.csv"'
    return response


def _share(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"
