from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError

from community import settings as runtime_settings
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


def _minutes(setting: runtime_settings.Setting, description: str) -> IntegerField:
    return IntegerField(
        setting.label,
        validators=[
            InputRequired("Give a number of minutes."),
            NumberRange(setting.minimum, setting.maximum),
        ],
        description=description,
    )


class SettingsForm(FlaskForm):
    premoderate_new_accounts = BooleanField(
        "Hold the first post of new accounts until a moderator approves it",
        description="Their posts wait in the Pending queue; once one is approved, the rest of "
        "what they write is published at once.",
    )
    response_great_minutes = _minutes(
        runtime_settings.RESPONSE_GREAT_MINUTES, "The handbook says 15 minutes."
    )
    response_okay_minutes = _minutes(
        runtime_settings.RESPONSE_OKAY_MINUTES,
        "The handbook says 60 minutes. Reminders go out as a question nears this mark.",
    )
    response_late_minutes = _minutes(
        runtime_settings.RESPONSE_LATE_MINUTES,
        "The handbook says a day (1440 minutes); anything later is too late.",
    )
    response_reminder_minutes = _minutes(
        runtime_settings.RESPONSE_REMINDER_MINUTES,
        "Once per question, the team's Slack channel and the hero on duty are told, as it nears "
        "the okay mark (45 minutes: a quarter of an hour before the hour).",
    )
    response_clock_working_hours = BooleanField(
        runtime_settings.RESPONSE_CLOCK_WORKING_HOURS.label,
        description="Nights, weekends and days off (each team's, in its time zone: see Teams) "
        "then do not count. A target of 1440 minutes is then 24 working hours.",
    )

    def validate_response_late_minutes(self, field: IntegerField) -> None:
        great, okay = self.response_great_minutes.data, self.response_okay_minutes.data
        if None not in (great, okay, field.data) and not great < okay < field.data:
            raise ValidationError("Targets must grow: great, then okay, then late.")

    def validate_response_reminder_minutes(self, field: IntegerField) -> None:
        okay = self.response_okay_minutes.data
        if None not in (okay, field.data) and field.data >= okay:
            raise ValidationError("The reminder must go out before the okay mark.")

    def values(self) -> dict[str, object]:
        return {
            key: bool(self[key].data) if isinstance(self[key], BooleanField) else self[key].data
            for key in runtime_settings.KNOWN
        }
