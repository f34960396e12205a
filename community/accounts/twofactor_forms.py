"""Forms of the two-factor pages. Each settings form names its action in a hidden field, so one
URL (``/settings/two-factor``) takes them all."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import InputRequired, Length, Optional

from community.accounts.services import MAX_PASSWORD_LENGTH

_CODE_ATTRIBUTES = {
    "autocomplete": "one-time-code",
    "autocapitalize": "none",
    "spellcheck": "false",
    "size": "14",
}


class BeginForm(FlaskForm):
    next = HiddenField()


class ConfirmForm(FlaskForm):
    code = StringField(
        "6-digit code from the app",
        validators=[InputRequired("Enter the code your app shows."), Length(max=20)],
        render_kw={**_CODE_ATTRIBUTES, "inputmode": "numeric"},
    )
    next = HiddenField()


class ChallengeForm(FlaskForm):
    code = StringField(
        "Authentication code",
        validators=[
            InputRequired("Enter the code from your authenticator app."),
            Length(max=40, message="That is longer than any code we issue."),
        ],
        render_kw={**_CODE_ATTRIBUTES, "autofocus": True},
        description="The 6-digit code your authenticator app shows now, or one of your "
        "recovery codes.",
    )


class ReauthenticateForm(FlaskForm):
    """Regenerating recovery codes and turning two-factor off both ask for proof first."""

    code = StringField(
        "Code from your app, or a recovery code",
        validators=[Optional(), Length(max=40)],
        render_kw=_CODE_ATTRIBUTES,
    )
    password = PasswordField(
        "Or your password",
        validators=[Optional(), Length(max=MAX_PASSWORD_LENGTH)],
        render_kw={"autocomplete": "current-password"},
    )


class RemovalRequestForm(FlaskForm):
    next = HiddenField()


class ConfirmRemovalForm(FlaskForm):
    pass
