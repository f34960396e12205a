"""The embed: a doc page's questions inside an iframe on the docs site, and the popup that signs
visitors in on the app's own origin.

Every route under ``/embed`` may be framed by the allowed docs sites and carries its session in
the embed's own cookie (see ``accounts.cookies``). The actions call the same services as the
site; only where they lead afterwards differs: back to the embed, with the page's context.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any
from urllib.parse import urlencode

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from community import content
from community.accounts import limits
from community.accounts import services as account_services
from community.accounts.access import admin_required
from community.accounts.forms import SignInForm, SignOutForm, SignUpForm
from community.accounts.sessions import end_session, start_session
from community.embed import services
from community.embed.context import EmbedContext, InvalidEmbed, framing_origins
from community.embed.forms import EmbedCodeForm
from community.errors import DomainError, NotFound
from community.extensions import db, limiter
from community.notifications import services as notification_services
from community.questions import drafts, permissions, queries, snapshots
from community.questions import services as question_services
from community.questions.forms import ActionForm, AskForm, ReplyForm
from community.questions.links import ThreadLinks
from community.questions.models import DraftKind, Question, Reply
from community.search import http as search_http
from community.search import limits as search_limits
from community.search import queries as search_queries
from community.web import allow_framing_by, safe_next_url

bp = Blueprint("embed", __name__)
INVALID = 422
# How many questions one embed shows; the rest are a click away on the site.
QUESTIONS_PER_EMBED = 20
POPUP_MAX_AGE_SECONDS = 15 * 60


class EmbedLinks(ThreadLinks):
    """The embed answers the thread's buttons itself and opens the full thread in a new tab."""

    external = True

    def __init__(self, context: EmbedContext) -> None:
        # The embed's query string, built once: a page has a few links per question.
        self.query = "?" + urlencode(context.params())

    def _to(self, endpoint: str, **ids: int) -> str:
        return url_for(endpoint, **ids) + self.query

    def reply(self, question: Question) -> str:
        return self._to("embed.reply", question_id=question.id)

    def accept(self, reply: Reply) -> str:
        return self._to("embed.accept", reply_id=reply.id)

    def withdraw(self, question: Question) -> str:
        return self._to("embed.withdraw", question_id=question.id)

    def follow(self, question: Question) -> str:
        return self._to("embed.follow", question_id=question.id)

    def unfollow(self, question: Question) -> str:
        return self._to("embed.unfollow", question_id=question.id)

    def publish_reply(self, reply: Reply) -> str | None:
        return None  # on the site

    def edit_reply(self, reply: Reply) -> str | None:
        return None

    def delete_reply(self, reply: Reply) -> str | None:
        return None

    def flag(self, post: Question | Reply) -> str | None:
        return None  # on the site, where the thread opens in a new tab

    def moderate_reply(self, reply: Reply) -> dict[str, str] | None:
        return None


@bp.before_request
def _open_embed() -> Response | tuple[str, int] | None:
    if not request.path.startswith("/embed"):
        return None  # the popup's routes: a top-level window, never framed
    allow_framing_by("'self'", *framing_origins())
    try:
        g.embed = EmbedContext.from_request(request)
    except InvalidEmbed as error:
        g.embed = None
        return render_template("embed/invalid.html", message=str(error)), 400
    return None


@bp.context_processor
def _embed_helpers() -> dict[str, Any]:
    context = g.get("embed")
    if context is None:
        return {}
    return {"embed": context, "links": EmbedLinks(context)}


# -- the page's questions -----------------------------------------------------------------------


@bp.get("/embed")
@limiter.exempt  # every docs page opens it; a first view is one query
def page(
    ask_form: AskForm | None = None,
    preview: str | None = None,
    status: int = 200,
    suggestions: list | None = None,
):
    context: EmbedContext = g.embed
    if ask_form is None and _sees_the_shared_page():
        response = snapshots.serve(
            context.page_url,
            _shared_kind(context),
            lambda found: _render_shared(context, found),
            mimetype="text/html",
            cache_control="private, no-cache",  # revalidated each time: a 304 is one query
            shareable=lambda: not session.modified,
            family="embed.",
        )
        response.vary.add("Cookie")  # signed in, the same URL shows the reader's own page
        return response
    threads = queries.page_threads(
        context.page_url, current_user, per_page=QUESTIONS_PER_EMBED, with_replies=True
    )
    followed = (
        notification_services.followed_among(current_user.id, [q.id for q in threads.questions])
        if current_user.is_authenticated
        else set()
    )
    if ask_form is None:
        ask_form = _ask_form(context, threads)
    return (
        render_template(
            "embed/page.html",
            threads=threads,
            form=ask_form,
            preview=preview,
            reply_forms=_reply_forms(threads.questions),
            following=followed.__contains__,
            suggestions=suggestions,
        ),
        status,
    )


# The query parameters an embed is opened with (anything else, like ?open=N after an action,
# is rendered for the reader alone).
_SHARED_PARAMETERS = frozenset({"url", "title", "topic", "theme", "origin"})


def _sees_the_shared_page() -> bool:
    """A first-time visitor: not signed in, nothing in their session (no draft, no message, no
    form token yet), and the embed's plain address. Every such visitor sees the same page."""
    return (
        request.method == "GET"
        and not current_user.is_authenticated
        and not session
        and _SHARED_PARAMETERS.issuperset(request.args.keys())
    )


def _shared_kind(context: EmbedContext) -> str:
    variant = hashlib.sha256(urlencode(sorted(context.params().items())).encode())
    return f"embed.{variant.hexdigest()[:32]}"


def _render_shared(context: EmbedContext, found: snapshots.Lookup) -> str:
    """The page as every first-time visitor sees it, with nobody's tokens in it: its forms carry
    an empty CSRF token and submission key, which embed-frame.js fills (from ``/embed/token``
    and the browser's random numbers) when the reader first uses a form. Without script, a post
    comes back as the form-expired page with the text kept, and the next try carries a token."""
    threads = (
        queries.page_threads(
            context.page_url, current_user, per_page=QUESTIONS_PER_EMBED, with_replies=True
        )
        if found.page_id is not None
        else queries.PageThreads(context.page_url, None, [])
    )
    form = AskForm(page_url=context.page_url, page_title=context.title, meta={"csrf": False})
    if threads.page is not None and threads.page.title:
        form.page_title.data = threads.page.title
    reply_forms = _reply_forms(threads.questions, shared=True)
    g.shared_rendering = True  # times as dates, made relative by the script (_macros/posts.html)
    return render_template(
        "embed/page.html",
        threads=threads,
        form=form,
        preview=None,
        reply_forms=reply_forms,
        following=set().__contains__,
        suggestions=None,
    )


@bp.get("/embed/token")
def token() -> Response:
    """A CSRF token for this reader's session, asked for by a page that was rendered for
    everyone (see ``_render_shared``)."""
    response = jsonify(csrf_token=generate_csrf())
    response.headers["Cache-Control"] = "no-store"
    return response


def _ask_form(context: EmbedContext, threads: queries.PageThreads) -> AskForm:
    form = AskForm(page_url=context.page_url, page_title=context.title)
    saved = drafts.pending_draft()
    if saved is not None and saved.kind == DraftKind.QUESTION:
        # A question written before signing in that could not be posted: ready to send again.
        form.subject.data = saved.data.get("subject", "")
        form.body.data = saved.data.get("body", "")
        form.submission_key.data = saved.token
    else:
        form.ensure_submission_key()
    if threads.page is not None and threads.page.title:
        form.page_title.data = threads.page.title
    return form


def _reply_forms(questions: list[Question], shared: bool = False) -> dict[int, ReplyForm]:
    forms = {}
    for question in questions:
        if shared:  # nobody's token or key: see _render_shared
            form = ReplyForm(formdata=None, meta={"csrf": False})
        else:
            form = ReplyForm(formdata=None)
            form.ensure_submission_key()
        # One page holds a reply form per question and the ask form: ids of their own, so the
        # ask form's "Details" label names its own box, not the first reply's.
        for reply_field in form:
            reply_field.id = f"reply-{question.id}-{reply_field.name}"
        forms[question.id] = form
    return forms


@bp.post("/embed/ask")
def ask() -> Response | tuple[str, int]:
    context: EmbedContext = g.embed
    form = AskForm()
    form.topic_id.choices = [(0, "")]
    form.topic_id.data = 0
    form.page_url.data = context.page_url
    if "preview" in request.form:
        return page(ask_form=form, preview=content.render_markdown(form.body.data or ""))
    if not form.validate_on_submit():
        return page(ask_form=form, status=INVALID)
    if not form.similar_seen.data and not (
        current_user.is_authenticated
        and question_services.question_submitted_with(
            current_user, form.submission_key.data or None
        )
    ):
        # As on the site: without the script, the first submit shows similar questions once.
        form.similar_seen.data = "1"
        suggestions = search_queries.similar(form.subject.data, page_url=context.page_url)
        if suggestions:
            return page(ask_form=form, suggestions=suggestions)
    if not current_user.is_authenticated:
        drafts.save_draft(
            DraftKind.QUESTION,
            {
                "subject": form.subject.data,
                "body": form.body.data,
                "page_url": context.page_url,
                "page_title": form.page_title.data or context.title,
                "topic_id": None,
            },
        )
        db.session.commit()
        return redirect(url_for("embed.sign_in", **context.params(saved="question")))
    try:
        question = question_services.ask_question(
            current_user,
            form.subject.data,
            form.body.data,
            page=question_services.resolve_page(
                context.page_url, form.page_title.data or context.title
            ),
            submission_key=form.submission_key.data or None,
        )
    except DomainError as error:
        form.body.errors = [*form.body.errors, str(error)]
        return page(ask_form=form, status=INVALID)
    drafts.forget_if_posted(form.submission_key.data)
    db.session.commit()
    flash(drafts.posted_message("question", question), "success")
    return _back(context, question)


@bp.get("/embed/similar")
@search_limits.similar_limit
def similar() -> Response:
    """Similar questions for the embed's ask form (its page preferred), as JSON; under /embed so
    the embed's framing and cookie rules apply. The script opens them in a new tab."""
    return search_http.similar_response(page_url=g.embed.page_url)


@bp.post("/embed/preview")
def preview() -> Response:
    """The markdown preview, as the post will look (the ask form's script asks for it)."""
    if not ActionForm().validate_on_submit():
        abort(400)
    body = request.form.get("body", "")
    if len(body) > 20_000:
        abort(413)
    return jsonify(html=content.render_markdown(body))


@bp.post("/embed/questions/<int:question_id>/replies")
def reply(question_id: int) -> Response | tuple[str, int]:
    context: EmbedContext = g.embed
    question = queries.question_for_update(question_id, current_user)
    if question is None:
        abort(404)
    form = ReplyForm()
    if not form.validate_on_submit():
        flash(" ".join(form.body.errors) or "Write a reply first.", "error")
        return _back(context, question)
    if not permissions.can_reply(current_user, question):
        abort(403, "This thread is locked: it takes no more replies.")
    if not current_user.is_authenticated:
        drafts.save_draft(DraftKind.REPLY, {"body": form.body.data}, question_id=question.id)
        db.session.commit()
        return redirect(url_for("embed.sign_in", **context.params(saved="reply")))
    try:
        new_reply = question_services.post_reply(
            current_user, question, form.body.data, submission_key=form.submission_key.data or None
        )
    except DomainError as error:
        flash(str(error), "error")
        return _back(context, question)
    drafts.forget_if_posted(form.submission_key.data)
    db.session.commit()
    flash(drafts.posted_message("reply", new_reply), "success")
    return _back(context, question)


@bp.post("/embed/replies/<int:reply_id>/accept")
def accept(reply_id: int) -> Response:
    found = _signed_in_action(lambda: queries.reply_for_update(reply_id, current_user))
    _run(question_services.accept_answer, current_user, found.question, found)
    flash("Marked as the answer. Thanks for closing the loop!", "success")
    return _back(g.embed, found.question)


@bp.post("/embed/questions/<int:question_id>/withdraw-answer")
def withdraw(question_id: int) -> Response:
    question = _signed_in_action(lambda: queries.question_for_update(question_id, current_user))
    _run(question_services.withdraw_answer, current_user, question)
    flash("The accepted answer is withdrawn.", "info")
    return _back(g.embed, question)


@bp.post("/embed/questions/<int:question_id>/follow")
def follow(question_id: int) -> Response:
    question = _signed_in_action(lambda: _followable(question_id))
    notification_services.subscribe(current_user, question, explicit=True)
    db.session.commit()
    flash("You'll get an email when someone replies.", "success")
    return _back(g.embed, question)


@bp.post("/embed/questions/<int:question_id>/unfollow")
def unfollow(question_id: int) -> Response:
    question = _signed_in_action(lambda: _followable(question_id))
    notification_services.unfollow(current_user, question)
    db.session.commit()
    flash("You won't get emails about this question any more.", "info")
    return _back(g.embed, question)


def _followable(question_id: int) -> Question | None:
    question = queries.question_for_update(question_id, current_user)
    return None if question is None or question.deleted_at is not None else question


# -- signing in inside the embed ----------------------------------------------------------------


@bp.route("/embed/sign-in", methods=["GET", "POST"])
@limits.sign_in_limits
def sign_in() -> Response | tuple[str, int]:
    context: EmbedContext = g.embed
    if current_user.is_authenticated:
        return redirect(url_for("embed.page", **context.params()))
    form = SignInForm()
    status = 200
    two_factor = False
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                user = account_services.check_sign_in(form.email.data, form.password.data)
            except account_services.SignInRefused as error:
                form.password.errors = [str(error)]
            else:
                if not user.has_two_factor:
                    return _start_embed_session(user, context)
                # The second factor is asked in a window of our own, not inside another site.
                two_factor = True
        status = INVALID if form.errors else 200
    return render_template(
        "embed/sign_in.html", form=form, saved=request.args.get("saved"), two_factor=two_factor
    ), status


@bp.route("/embed/sign-up", methods=["GET", "POST"])
@limits.sign_up_limits
def sign_up() -> Response | tuple[str, int]:
    form = SignUpForm()
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                account_services.register(
                    form.email.data,
                    form.name.data,
                    form.password.data,
                    draft_token=session.get(drafts.SESSION_KEY),
                    next_url=None,
                )
            except account_services.WeakPassword as error:
                form.password.errors = [*form.password.errors, str(error)]
            else:
                db.session.commit()
                return render_template(
                    "embed/check_email.html",
                    email=account_services.normalise_email(form.email.data),
                )
        return render_template("embed/sign_up.html", form=form), INVALID
    return render_template("embed/sign_up.html", form=form, saved=request.args.get("saved"))


@bp.post("/embed/sign-out")
def sign_out() -> Response:
    if SignOutForm().validate_on_submit():
        end_session()
        db.session.commit()
        flash("You are signed out.", "info")
    return redirect(url_for("embed.page", **g.embed.params()))


@bp.post("/embed/sign-in/popup")
def begin_popup() -> Response:
    """A sign-in request for the popup to finish (the embed's script opens the popup)."""
    if not ActionForm().validate_on_submit():
        abort(400)
    provider = request.form.get("provider") or None
    request_token = services.begin()
    db.session.commit()
    return jsonify(url=url_for("embed.popup", r=request_token, provider=provider))


@bp.post("/embed/sign-in/redeem")
def redeem() -> Response:
    """Exchange the popup's one-time code (or, polling, this session's request) for a session."""
    if not ActionForm().validate_on_submit():
        abort(400)
    code = request.form.get("code") or None
    user = services.redeem(code)
    if user is None:
        db.session.commit()
        return jsonify(signed_in=False)
    response = _start_embed_session(user, g.embed, second_factor_done=True)
    return jsonify(signed_in=True, location=response.location)


def _start_embed_session(
    user: Any, context: EmbedContext, *, second_factor_done: bool = False
) -> Response:
    """Sign in inside the embed; a draft written before is posted, and we stay in the embed."""
    return start_session(
        user,
        next_url=url_for("embed.page", **context.params()),
        second_factor_done=second_factor_done,
        follow_continuations=False,
    )


# -- the popup: a top-level window on our origin ------------------------------------------------


@bp.get("/popup/sign-in")
def popup() -> Response:
    """Start the popup's sign-in: with a provider, straight to it; otherwise our sign-in page."""
    request_token = request.args.get("r", "")
    if not 20 <= len(request_token) <= 100:
        abort(400, "This sign-in window was opened without its request. Close it and try again.")
    session[services.POPUP_KEY] = {"request": request_token, "started": time.time()}
    # From this very response on: browsers apply the opener policy of redirects too, and a
    # same-origin one here would cut the popup off from the embed that opened it.
    g.opener_policy = "unsafe-none"
    if current_user.is_authenticated:
        return redirect(url_for("embed.popup_done"))
    done = url_for("embed.popup_done")
    provider = request.args.get("provider")
    if provider:
        return redirect(url_for("oauth.start", provider=provider, next=done))
    return redirect(url_for("accounts.sign_in", next=done))


@bp.route("/popup/done", methods=["GET", "POST"])
def popup_done() -> tuple[str, int] | str:
    """The popup's last step: the person confirms, and the embed gets its one-time code.

    Confirming is a POST of our own form: a page that opens this popup itself (not our embed)
    could otherwise sign a visitor who is already signed in here, or whose provider answers
    without asking, into an embed session of its choosing. The confirmation is automatic only
    when the window that opened the popup is on our own origin (our embed)."""
    pending = session.get(services.POPUP_KEY)
    if (
        not isinstance(pending, dict)
        or time.time() - float(pending.get("started", 0)) > POPUP_MAX_AGE_SECONDS
        or not current_user.is_authenticated
    ):
        session.pop(services.POPUP_KEY, None)
        return render_template("embed/popup_done.html", code=None), 400
    if request.method == "GET" or not ActionForm().validate_on_submit():
        return render_template("embed/popup_confirm.html")
    session.pop(services.POPUP_KEY, None)
    code = services.record(current_user, str(pending["request"]))
    db.session.commit()
    return render_template("embed/popup_done.html", code=code)


def in_popup_flow() -> bool:
    """This top-level window is a sign-in popup opened by the embed (see web: the opener)."""
    pending = session.get(services.POPUP_KEY) if request.blueprint != "api" else None
    return isinstance(pending, dict)


# -- the admin's embed code page ----------------------------------------------------------------


@bp.get("/admin/embed")
@admin_required
def configure() -> tuple[str, int] | str:
    """Pick defaults, copy the snippet, see it live (the app may always frame its own embed)."""
    form = EmbedCodeForm(request.args)
    topics = queries.topics_with_teams()
    form.topic.choices = [SelectChoice("", "Any (by the page's address)")] + [
        SelectChoice(topic.slug, topic.name) for topic in topics
    ]
    valid = form.validate() if request.args else True
    preview_url = None
    page_url = (form.page_url.data or "").strip()
    if valid and page_url:
        try:
            page_url = question_services.canonical_page_url(page_url)
        except question_services.InvalidPage as error:
            form.page_url.errors = [*form.page_url.errors, str(error)]
            valid = False
        else:
            preview_url = url_for(
                "embed.page",
                url=page_url,
                title=form.page_title.data or None,
                topic=form.topic.data or None,
                theme=form.theme.data if form.theme.data not in (None, "", "auto") else None,
            )
    snippet = render_template(
        "embed/_snippet.html",
        base=current_app.config["BASE_URL"],
        page_url=page_url if valid else "",
        page_title=form.page_title.data or "",
        topic=form.topic.data or "",
        theme=form.theme.data if form.theme.data not in (None, "auto") else "",
    )
    return render_template(
        "embed/configure.html",
        form=form,
        snippet=snippet.strip(),
        preview_url=preview_url,
        allowed=framing_origins(),
    ), (200 if valid else INVALID)


# -- helpers -------------------------------------------------------------------------------------


def _signed_in_action(load: Any) -> Any:
    if not current_user.is_authenticated:
        return abort(redirect(url_for("embed.sign_in", **g.embed.params())))
    if not ActionForm().validate_on_submit():
        abort(400)
    found = load()
    if found is None:
        abort(404)
    return found


def _run(service: Any, *args: Any) -> None:
    try:
        service(*args)
    except NotFound as error:
        abort(404, str(error))
    except DomainError as error:
        abort(error.status, str(error))
    db.session.commit()


def _back(context: EmbedContext, question: Question) -> Response:
    target = url_for("embed.page", **context.params()) + f"#question-{question.id}"
    return redirect(safe_next_url(target) or url_for("embed.page", **context.params()))
