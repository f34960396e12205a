from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    DateField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
    widgets,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from community.hero.clock import WEEKDAY_NAMES, timezone_names


class CheckboxesField(SelectMultipleField):
    """A set of checkboxes (works without JavaScript, unlike a multiple select)."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class WorkingHoursForm(FlaskForm):
    timezone = SelectField("Time zone", validators=[InputRequired()], validate_choice=True)
    days = CheckboxesField(
        "Working days",
        coerce=int,
        choices=[SelectChoice(day, name) for day, name in WEEKDAY_NAMES.items()],
        validators=[InputRequired("Choose at least one working day.")],
    )
    start = TimeField("Day starts", validators=[InputRequired("When does the day start?")])
    end = TimeField("Day ends", validators=[InputRequired("When does the day end?")])

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.timezone.choices = [SelectChoice(name, name) for name in timezone_names()]

    def validate_end(self, field: TimeField) -> None:
        if self.start.data and field.data and field.data <= self.start.data:
            raise ValidationError("The working day must end after it starts.")


class RotationForm(FlaskForm):
    members = TextAreaField(
        "People on duty, in order",
        validators=[Optional(), Length(max=20_000)],
        render_kw={"rows": 6, "placeholder": "ada@example.com\ngrace@example.com"},
        description="One email address a line: team members, moderators or admins. Each takes "
        "a week in turn.",
    )
    starts_on = DateField(
        "The first person's week starts on",
        validators=[InputRequired("Choose the day the rotation starts.")],
        description="Weeks start on this weekday, at midnight in the team's time zone.",
    )


class SwapForm(FlaskForm):
    scope = RadioField(
        "Swap",
        choices=[SelectChoice("week", "whole weeks"), SelectChoice("day", "single days")],
        default="week",
        validators=[InputRequired()],
        validate_choice=True,
    )
    first = DateField("The person on duty on", validators=[InputRequired("Choose a day.")])
    second = DateField(
        "swaps with the person on duty on", validators=[InputRequired("Choose a day.")]
    )


class ImportForm(FlaskForm):
    schedule = FileField(
        "On-call schedule (.ics)",
        validators=[FileRequired("Choose an .ics file.")],
        description="Replaces the shifts imported before. Each event names its person by email.",
    )


class SavedReplyForm(FlaskForm):
    title = StringField("Title", validators=[InputRequired("Give it a title."), Length(max=120)])
    body = TextAreaField(
        "Text",
        validators=[InputRequired("Write the reply."), Length(max=10_000)],
        render_kw={"rows": 6},
        description="Placeholders: {first_name} and {name} (the asker), {page} (a link to the "
        'doc page), {page_title}, {page_url}. It follows the greeting "Hey {first name}, " '
        "unless it names the asker itself.",
    )
    scope = SelectField("For", validators=[InputRequired()], validate_choice=True)


class FeatureRequestForm(FlaskForm):
    issue_url = StringField(
        "GitHub issue",
        validators=[InputRequired("Paste the issue's address."), Length(max=300)],
        render_kw={"placeholder": "https://github.com/OWNER/REPO/issues/123"},
    )


class FollowUpForm(FlaskForm):
    due_on = DateField("Follow up on", validators=[InputRequired("Choose a day.")])
    note = StringField("Note (optional)", validators=[Optional(), Length(max=200)])
