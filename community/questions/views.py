from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from community import signals
from community.errors import DomainError, NotFound
from community.extensions import db
from community.questions import drafts, permissions, queries, services
from community.questions.forms import (
    ActionForm,
    AskForm,
    EditQuestionForm,
    EditReplyForm,
    ReplyForm,
    topic_choices,
)
from community.questions.links import ThreadLinks
from community.questions.models import DraftKind, Question, QuestionStatus, Team, Topic
from community.search import limits as search_limits
from community.search import queries as search_queries

bp = Blueprint("questions", __name__)

# A form that failed validation is shown again, with the person's text, under this status.
INVALID = 422
MAX_PREFIX_LENGTH = 2000


@bp.app_context_processor
def _template_helpers() -> dict:
    return {"can": permissions, "links": ThreadLinks()}


@bp.get("/")
def home() -> Response:
    return redirect(url_for("questions.index"))


@bp.get("/questions")
@search_limits.search_limit
def index() -> str:
    if request.args.get("q", "").strip():
        return _search()
    topic_slug = request.args.get("topic") or None
    status_name = request.args.get("state") or None
    topic = queries.topic_by_slug(topic_slug)
    status = QuestionStatus(status_name) if status_name in set(QuestionStatus) else None
    listing = queries.list_questions(
        current_user,
        per_page=current_app.config["QUESTIONS_PER_PAGE"],
        topic=topic,
        status=status,
        before=queries.Cursor.decode(request.args.get("before")),
        after=queries.Cursor.decode(request.args.get("after")),
    )
    filters = {"topic": topic.slug if topic else None, "state": status.value if status else None}
    return render_template(
        "questions/index.html",
        listing=listing,
        topics=queries.topics_with_teams(),
        filters={k: v for k, v in filters.items() if v},
        unknown_topic=bool(topic_slug and topic is None),
    )


def _search() -> str:
    """``/questions?q=…``: search, with the list's filters (and team and page) kept."""
    topics = queries.topics_with_teams()
    teams = _teams_of(topics)
    topic_slug, team_slug = request.args.get("topic", ""), request.args.get("team", "")
    status_name = request.args.get("state", "")
    filters = search_queries.SearchFilters(
        topic=next((topic for topic in topics if topic.slug == topic_slug), None),
        team=next((team for team in teams if team.slug == team_slug), None),
        status=QuestionStatus(status_name) if status_name in set(QuestionStatus) else None,
        page_prefix=request.args.get("page", "").strip()[:MAX_PREFIX_LENGTH],
    )
    per_page = current_app.config["QUESTIONS_PER_PAGE"]
    last_page = max(1, search_queries.MAX_RESULTS // per_page)
    number = min(max(request.args.get("p", 1, type=int) or 1, 1), last_page)
    results = search_queries.search(
        request.args.get("q", ""), filters, offset=(number - 1) * per_page, limit=per_page
    )
    args = {
        "q": results.query.text,
        "topic": filters.topic.slug if filters.topic else None,
        "team": filters.team.slug if filters.team else None,
        "state": filters.status.value if filters.status else None,
        "page": filters.page_prefix or None,
    }
    return render_template(
        "questions/search.html",
        results=results,
        number=number,
        topics=topics,
        teams=teams,
        filters={k: v for k, v in args.items() if v},
        unknown_topic=bool(topic_slug and filters.topic is None),
    )


def _teams_of(topics: list[Topic]) -> list[Team]:
    teams = {topic.team.id: topic.team for topic in topics}
    return sorted(teams.values(), key=lambda team: team.name)


@bp.get("/questions/<int:question_id>")
@bp.get("/questions/<int:question_id>-<slug>")
def show(question_id: int, slug: str | None = None, reply_form: ReplyForm | None = None):
    found = queries.thread(question_id, current_user)
    if found is None:
        abort(404)
    question = found.question
    if slug != question.slug and reply_form is None:
        # The query string stays (a saved reply picked for the composer, say).
        canonical = url_for("questions.show", question_id=question.id, slug=question.slug)
        query = request.query_string.decode("ascii", "replace")
        return redirect(canonical + (f"?{query}" if query else ""), 301)
    if reply_form is None:
        reply_form = ReplyForm()
        reply_form.ensure_submission_key()
        reply_form.body.data = _starting_text(question)
    status = INVALID if reply_form.errors else 200
    return render_template("questions/show.html", thread=found, reply_form=reply_form), status


def _starting_text(question: Question) -> str | None:
    """What the composer starts with: the first text a feature offers (the hero's greeting
    and saved replies), else nothing."""
    offered = signals.reply_composing.send(
        current_app._get_current_object(),
        viewer=current_user,
        question=question,
        args=request.args,
    )
    return next((text for _receiver, text in offered if text), None)


@bp.get("/pages")
def page() -> Response | tuple[str, int] | str:
    raw_url = request.args.get("url", "")
    try:
        canonical = services.canonical_page_url(raw_url)
    except services.InvalidPage as error:
        return render_template("questions/page_invalid.html", message=str(error), url=raw_url), 400
    threads = queries.page_threads(canonical, current_user)
    form = AskForm(page_url=canonical, page_title=request.args.get("title", ""))
    form.page_title.data = (threads.page.title if threads.page else "") or form.page_title.data
    form.ensure_submission_key()
    return render_template("questions/page.html", threads=threads, form=form)


@bp.route("/ask", methods=["GET", "POST"])
def ask() -> Response | tuple[str, int] | str:
    form = AskForm()
    topics = queries.topics_with_teams()
    form.topic_id.choices = topic_choices(topics)
    if request.method == "GET":
        form.page_url.data = request.args.get("url", "")
        form.page_title.data = request.args.get("title", "")
        form.ensure_submission_key()
        return render_template("questions/ask.html", form=form, page_url=_page_url_or_none(form))
    valid = form.validate_on_submit()  # resets field errors, so check the page URL after it
    page_url = _page_url_or_none(form)
    if valid and page_url is not False:
        suggestions = _similar_unless_seen(form, page_url)
        if suggestions:
            return render_template(
                "questions/ask.html", form=form, page_url=page_url, suggestions=suggestions
            )
        if not current_user.is_authenticated:
            drafts.save_draft(DraftKind.QUESTION, _question_draft(form, page_url))
            db.session.commit()
            return _sign_in_to_post("question")
        try:
            page = services.resolve_page(page_url, form.page_title.data) if page_url else None
            question = services.ask_question(
                current_user,
                form.subject.data,
                form.body.data,
                page=page,
                topic=db.session.get(Topic, form.topic_id.data) if form.topic_id.data else None,
                submission_key=form.submission_key.data or None,
            )
        except DomainError as error:
            form.body.errors = [*form.body.errors, str(error)]
        else:
            drafts.forget_if_posted(form.submission_key.data)
            db.session.commit()
            flash(drafts.posted_message("question", question), "success")
            return redirect(url_for("questions.show", question_id=question.id, slug=question.slug))
    return render_template("questions/ask.html", form=form, page_url=page_url or None), INVALID


@bp.post("/questions/<int:question_id>/replies")
def reply(question_id: int):
    question = queries.question_for_update(question_id, current_user)
    if question is None:
        abort(404)
    form = ReplyForm()
    if not form.validate_on_submit():
        return show(question_id, question.slug, reply_form=form)
    if not permissions.can_reply(current_user, question):
        abort(403, "This thread is locked: it takes no more replies.")
    if not current_user.is_authenticated:
        drafts.save_draft(DraftKind.REPLY, {"body": form.body.data}, question_id=question.id)
        db.session.commit()
        return _sign_in_to_post("reply")
    try:
        new_reply = services.post_reply(
            current_user, question, form.body.data, submission_key=form.submission_key.data or None
        )
    except DomainError as error:
        form.body.errors = [*form.body.errors, str(error)]
        return show(question_id, question.slug, reply_form=form)
    drafts.forget_if_posted(form.submission_key.data)
    db.session.commit()
    flash(drafts.posted_message("reply", new_reply), "success")
    return redirect(
        url_for("questions.show", question_id=question.id, slug=question.slug)
        + f"#reply-{new_reply.id}"
    )


@bp.route("/questions/<int:question_id>/edit", methods=["GET", "POST"])
@login_required
def edit_question(question_id: int):
    question = queries.question_for_update(question_id, current_user)
    if question is None:
        abort(404)
    if not permissions.can_edit(current_user, question):
        abort(403, "You can only edit your own questions.")
    form = EditQuestionForm(obj=None if request.method == "POST" else question)
    if request.method == "GET":
        form.body.data = question.body_source
    elif form.validate_on_submit():
        try:
            services.edit_question(current_user, question, form.subject.data, form.body.data)
        except DomainError as error:
            form.body.errors = [*form.body.errors, str(error)]
        else:
            db.session.commit()
            flash("Your changes are saved.", "success")
            return redirect(url_for("questions.show", question_id=question.id, slug=question.slug))
    status = INVALID if form.errors else 200
    return render_template("questions/edit_question.html", form=form, question=question), status


@bp.route("/replies/<int:reply_id>/edit", methods=["GET", "POST"])
@login_required
def edit_reply(reply_id: int):
    reply_ = queries.reply_for_update(reply_id, current_user)
    if reply_ is None:
        abort(404)
    if not permissions.can_edit(current_user, reply_):
        abort(403, "You can only edit your own replies.")
    form = EditReplyForm()
    if request.method == "GET":
        form.body.data = reply_.body_source
    elif form.validate_on_submit():
        try:
            services.edit_reply(current_user, reply_, form.body.data)
        except DomainError as error:
            form.body.errors = [*form.body.errors, str(error)]
        else:
            db.session.commit()
            flash("Your changes are saved.", "success")
            return redirect(_reply_url(reply_.question, reply_.id))
    status = INVALID if form.errors else 200
    return render_template("questions/edit_reply.html", form=form, reply=reply_), status


@bp.post("/questions/<int:question_id>/delete")
@login_required
def delete_question(question_id: int) -> Response:
    question = _question_or_404(question_id)
    _run(services.delete_question, current_user, question)
    flash("The question is deleted.", "info")
    return redirect(url_for("questions.index"))


@bp.post("/replies/<int:reply_id>/delete")
@login_required
def delete_reply(reply_id: int) -> Response:
    reply_ = queries.reply_for_update(reply_id, current_user)
    if reply_ is None:
        abort(404)
    _require_action_form()
    _run(services.delete_reply, current_user, reply_)
    flash("The reply is deleted.", "info")
    return redirect(
        url_for("questions.show", question_id=reply_.question_id, slug=reply_.question.slug)
    )


@bp.post("/replies/<int:reply_id>/accept")
@login_required
def accept(reply_id: int) -> Response:
    reply_ = queries.reply_for_update(reply_id, current_user)
    if reply_ is None:
        abort(404)
    _require_action_form()
    _run(services.accept_answer, current_user, reply_.question, reply_)
    flash("Marked as the answer. Thanks for closing the loop!", "success")
    return redirect(_reply_url(reply_.question, reply_.id))


@bp.post("/questions/<int:question_id>/withdraw-answer")
@login_required
def withdraw(question_id: int) -> Response:
    question = _question_or_404(question_id)
    _run(services.withdraw_answer, current_user, question)
    flash("The accepted answer is withdrawn.", "info")
    return redirect(url_for("questions.show", question_id=question.id, slug=question.slug))


@bp.post("/questions/<int:question_id>/publish")
@login_required
def publish_question(question_id: int) -> Response:
    question = _question_or_404(question_id)
    _run(services.publish_own_held_post, current_user, question)
    flash("Your question is published.", "success")
    return redirect(url_for("questions.show", question_id=question.id, slug=question.slug))


@bp.post("/replies/<int:reply_id>/publish")
@login_required
def publish_reply(reply_id: int) -> Response:
    reply_ = queries.reply_for_update(reply_id, current_user)
    if reply_ is None:
        abort(404)
    _require_action_form()
    _run(services.publish_own_held_post, current_user, reply_)
    flash("Your reply is published.", "success")
    return redirect(_reply_url(reply_.question, reply_.id))


@bp.get("/questions/<int:question_id>/history")
def history(question_id: int) -> str:
    question = queries.question_for_update(question_id, current_user)
    if question is None:
        abort(404)
    return render_template(
        "questions/history.html",
        post=question,
        question=question,
        revisions=services.revisions(question),
    )


@bp.get("/replies/<int:reply_id>/history")
def reply_history(reply_id: int) -> str:
    reply_ = queries.reply_for_update(reply_id, current_user)
    if reply_ is None:
        abort(404)
    return render_template(
        "questions/history.html",
        post=reply_,
        question=reply_.question,
        revisions=services.revisions(reply_),
    )


@bp.get("/draft")
def draft() -> Response | str:
    """The visitor's saved draft, ready to edit and send (after a failed automatic post)."""
    saved = drafts.pending_draft()
    if saved is None:
        flash("There is no saved draft.", "info")
        return redirect(url_for("questions.index"))
    return render_template("questions/draft.html", draft=saved, form=_draft_form(saved))


@bp.post("/draft/discard")
def discard_draft() -> Response:
    if ActionForm().validate_on_submit():
        drafts.discard_draft()
        db.session.commit()
        flash("Your draft is discarded.", "info")
    return redirect(url_for("questions.index"))


# -- helpers -------------------------------------------------------------------------------------


def _page_url_or_none(form: AskForm) -> str | bool | None:
    """The canonical page URL from the form, None when asked without a page, False if invalid."""
    raw = (form.page_url.data or "").strip()
    if not raw:
        return None
    try:
        return services.canonical_page_url(raw)
    except services.InvalidPage as error:
        form.page_url.errors = [*form.page_url.errors, str(error)]
        return False


def _similar_unless_seen(form: AskForm, page_url: str | None) -> list:
    """Questions like this one, the first time the form is sent (without JavaScript, the asker
    has seen none yet). The form comes back with them, marked as seen: sending it again posts."""
    if form.similar_seen.data or _posted_already(form):
        return []
    suggestions = search_queries.similar(form.subject.data, page_url=page_url)
    form.similar_seen.data = "1"
    return suggestions


def _posted_already(form: AskForm) -> bool:
    """This form was sent before and posted (a double submit): it goes on to that question."""
    return current_user.is_authenticated and bool(
        services.question_submitted_with(current_user, form.submission_key.data or None)
    )


def _question_draft(form: AskForm, page_url: str | None) -> dict:
    return {
        "subject": form.subject.data,
        "body": form.body.data,
        "page_url": page_url,
        "page_title": form.page_title.data,
        "topic_id": form.topic_id.data or None,
    }


def _draft_form(saved) -> AskForm | ReplyForm:
    if saved.kind == DraftKind.REPLY:
        form = ReplyForm(body=saved.data.get("body", ""))
    else:
        form = AskForm(
            subject=saved.data.get("subject", ""),
            body=saved.data.get("body", ""),
            page_url=saved.data.get("page_url") or "",
            page_title=saved.data.get("page_title") or "",
        )
        form.topic_id.choices = topic_choices(queries.topics_with_teams())
        form.topic_id.data = saved.data.get("topic_id") or 0
    # Sending the draft from this form then counts as posting the draft itself.
    form.submission_key.data = saved.token
    return form


def _sign_in_to_post(what: str) -> Response:
    flash(
        f"Your {what} is saved. Sign in or create an account and we'll post it right away.", "info"
    )
    return redirect(url_for("accounts.sign_in"))


def _question_or_404(question_id: int) -> Question:
    question = queries.question_for_update(question_id, current_user)
    if question is None:
        abort(404)
    _require_action_form()
    return question


def _require_action_form() -> None:
    if not ActionForm().validate_on_submit():
        abort(400)


def _run(service, *args) -> None:
    """Call a state-changing service and commit, turning a broken rule into its 4xx."""
    try:
        service(*args)
    except NotFound as error:
        abort(404, str(error))
    except DomainError as error:
        abort(error.status, str(error))
    db.session.commit()


def _reply_url(question: Question, reply_id: int) -> str:
    return url_for("questions.show", question_id=question.id, slug=question.slug) + (
        f"#reply-{reply_id}"
    )
