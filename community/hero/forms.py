from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField, SelectMultipleField, TimeField, widgets
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, ValidationError

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
