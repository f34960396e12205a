from __future__ import annotations

import secrets

from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional, Regexp

from community.questions.services import MAX_BODY_LENGTH, MAX_SUBJECT_LENGTH

_KEY = Regexp(r"^[A-Za-z0-9_-]{16,64}$", message="This form is out of date; reload the page.")


def _body_field(label: str, placeholder: str) -> TextAreaField:
    return TextAreaField(
        label,
        validators=[
            InputRequired("Write something first."),
            Length(max=MAX_BODY_LENGTH, message=f"Keep it under {MAX_BODY_LENGTH:,} characters."),
        ],
        render_kw={"rows": 8, "placeholder": placeholder},
        description="Markdown works: **bold**, `code`, ```fenced blocks```, lists, tables, links.",
    )


def topic_choices(topics: list) -> list[SelectChoice]:
    return [SelectChoice("0", "Not sure / general")] + [
        SelectChoice(str(topic.id), topic.name) for topic in topics
    ]


class SubmissionKeyMixin:
    """A random key per rendered form; the server turns a double submit into one post."""

    submission_key = HiddenField(validators=[Optional(), _KEY])

    def ensure_submission_key(self) -> None:
        if not self.submission_key.data:
            self.submission_key.data = secrets.token_urlsafe(24)


class AskForm(SubmissionKeyMixin, FlaskForm):
    subject = StringField(
        "Subject",
        validators=[
            InputRequired("Write a subject for your question."),
            Length(min=5, max=MAX_SUBJECT_LENGTH, message="Between 5 and 200 characters, please."),
        ],
        render_kw={"placeholder": "What do you want to know?", "autocomplete": "off"},
    )
    body = _body_field("Details", "What did you try? What happened? What did you expect?")
    topic_id = SelectField("Topic", coerce=int, validators=[Optional()], validate_choice=True)
    page_url = HiddenField(validators=[Optional(), Length(max=2000)])
    page_title = HiddenField(validators=[Optional(), Length(max=1000)])
    # "1" once the asker has been shown similar questions (by the script while typing, or by
    # the server's "Did you mean one of these?"): the form then posts without asking again.
    similar_seen = HiddenField(validators=[Optional(), Length(max=1)])


class ReplyForm(SubmissionKeyMixin, FlaskForm):
    body = _body_field("Your reply", "Share what you know…")


class EditQuestionForm(FlaskForm):
    subject = AskForm.subject
    body = _body_field("Details", "")


class EditReplyForm(FlaskForm):
    body = _body_field("Reply", "")


class ActionForm(FlaskForm):
    """A button that changes state: only the CSRF token travels."""
