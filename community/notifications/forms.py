from __future__ import annotations

from urllib.parse import urlsplit

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, URLField
from wtforms.validators import Length, Optional, ValidationError


class EmailSettingsForm(FlaskForm):
    email_notifications = BooleanField("Email me about replies to questions I follow")


def _webhook(form: FlaskForm, field: URLField) -> None:
    if not field.data:
        return
    parts = urlsplit(field.data)
    local = parts.hostname in {"127.0.0.1", "localhost", "::1"}
    if not parts.hostname or not (parts.scheme == "https" or (parts.scheme == "http" and local)):
        raise ValidationError("Use the https:// webhook address Slack gave you.")


class TeamWebhookForm(FlaskForm):
    team_id = HiddenField()
    webhook_url = URLField(
        "Slack webhook",
        validators=[Optional(), Length(max=500), _webhook],
        render_kw={"placeholder": "https://hooks.slack.com/services/…"},
    )
