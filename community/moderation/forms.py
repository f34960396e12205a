from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional

from community.moderation.flags import MAX_NOTE_LENGTH
from community.moderation.models import FlagReason
from community.moderation.services import HIDE_REASONS, MAX_REASON_LENGTH
from community.questions.models import Topic


class HideForm(FlaskForm):
    reason = SelectField(
        "Reason",
        choices=[SelectChoice(r, r.replace("-", " ").capitalize()) for r in HIDE_REASONS],
        validators=[InputRequired()],
        validate_choice=True,
    )
    details = StringField("Details", validators=[Optional(), Length(max=MAX_REASON_LENGTH)])


class MoveForm(FlaskForm):
    topic_id = SelectField("Topic", coerce=int, validators=[Optional()], validate_choice=True)
    page_url = StringField(
        "Doc page",
        validators=[Optional(), Length(max=2000)],
        description="The page it is listed under. Empty: under no page.",
    )


def move_form(topics: list[Topic], **kwargs: object) -> MoveForm:
    form = MoveForm(**kwargs)
    form.topic_id.choices = [SelectChoice(0, "No topic")] + [
        SelectChoice(t.id, t.name) for t in topics
    ]
    return form


class FlagForm(FlaskForm):
    reason = RadioField(
        "What is wrong with this post?",
        choices=[SelectChoice(reason.value, reason.label) for reason in FlagReason],
        validators=[InputRequired("Choose what is wrong with this post.")],
        validate_choice=True,
    )
    note = TextAreaField(
        "Anything the moderators should know?",
        validators=[Optional(), Length(max=MAX_NOTE_LENGTH)],
        render_kw={"rows": 3},
    )


class BanForm(FlaskForm):
    reason = StringField(
        "Reason",
        validators=[
            InputRequired("Say why this account is banned."),
            Length(max=MAX_REASON_LENGTH),
        ],
    )
    until = DateField(
        "Until (optional)",
        validators=[Optional()],
        description="Leave empty to ban until a moderator lifts it.",
    )


class SettingsForm(FlaskForm):
    premoderate_new_accounts = BooleanField(
        "Hold the first post of new accounts until a moderator approves it",
        description="Their posts wait in the Pending queue; once one is approved, the rest of "
        "what they write is published at once.",
    )
