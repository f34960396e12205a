from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import NumberRange, Optional

from community.questions.models import Team, Topic
from community.zendesk.models import Priority

MAX_ZENDESK_ID = 2**63 - 1
PRIORITY_CHOICES = [SelectChoice("", "Default (normal)")] + [
    SelectChoice(p.value, p.value.title()) for p in Priority
]


def routing_form(teams: list[Team], topics: list[Topic], **data: object) -> FlaskForm:
    """One form for the whole page: ``team_<id>`` is the team's Zendesk group id, and
    ``topic_<id>`` the topic's default priority. A field left out of a submission is left
    unchanged."""

    class RoutingForm(FlaskForm):
        pass

    for team in teams:
        setattr(
            RoutingForm,
            f"team_{team.id}",
            IntegerField(
                f"Zendesk group of {team.name}",
                validators=[
                    Optional(),
                    NumberRange(1, MAX_ZENDESK_ID, "A Zendesk group id is a positive number."),
                ],
                render_kw={"placeholder": "no group", "inputmode": "numeric"},
            ),
        )
    for topic in topics:
        setattr(
            RoutingForm,
            f"topic_{topic.id}",
            SelectField(
                f"Priority of {topic.name}",
                choices=PRIORITY_CHOICES,
                validators=[Optional()],
                validate_choice=True,
            ),
        )
    return RoutingForm(data=data)
