from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Email, InputRequired, Length, Optional

from community.accounts.models import Role
from community.accounts.services import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def _new_password(label: str = "New password") -> PasswordField:
    return PasswordField(
        label,
        validators=[
            InputRequired("Choose a password."),
            Length(
                min=MIN_PASSWORD_LENGTH,
                max=MAX_PASSWORD_LENGTH,
                message=f"Use between {MIN_PASSWORD_LENGTH} and {MAX_PASSWORD_LENGTH} characters.",
            ),
        ],
        render_kw={"autocomplete": "new-password"},
        description=f"At least {MIN_PASSWORD_LENGTH} characters. A passphrase is best.",
    )


class SignUpForm(FlaskForm):
    name = StringField(
        "Your name",
        filters=[_strip],
        validators=[InputRequired("Tell us what to call you."), Length(max=80)],
        render_kw={"autocomplete": "name"},
    )
    email = EmailField(
        "Email",
        filters=[_strip],
        validators=[
            InputRequired("Enter your email address."),
            Email("That doesn't look like an email address."),
            Length(max=254),
        ],
        render_kw={"autocomplete": "email"},
    )
    password = _new_password("Password")
    next = HiddenField()


class SignInForm(FlaskForm):
    email = EmailField(
        "Email",
        filters=[_strip],
        validators=[InputRequired("Enter your email address."), Length(max=254)],
        render_kw={"autocomplete": "username"},
    )
    password = PasswordField(
        "Password",
        validators=[InputRequired("Enter your password."), Length(max=MAX_PASSWORD_LENGTH)],
        render_kw={"autocomplete": "current-password"},
    )
    remember = BooleanField("Keep me signed in on this device")
    next = HiddenField()


class SignOutForm(FlaskForm):
    pass


def _current_password() -> PasswordField:
    return PasswordField(
        "Current password",
        validators=[Optional(), Length(max=MAX_PASSWORD_LENGTH)],
        render_kw={"autocomplete": "current-password"},
    )


class RequestResetForm(FlaskForm):
    email = EmailField(
        "Email",
        filters=[_strip],
        validators=[InputRequired("Enter your email address."), Length(max=254)],
        render_kw={"autocomplete": "email"},
    )


class ResetPasswordForm(FlaskForm):
    password = _new_password()


class NameForm(FlaskForm):
    name = StringField(
        "Your name",
        filters=[_strip],
        validators=[InputRequired("Tell us what to call you."), Length(max=80)],
        render_kw={"autocomplete": "name"},
    )


class ChangePasswordForm(FlaskForm):
    current_password = _current_password()
    new_password = _new_password()


class ChangeEmailForm(FlaskForm):
    new_email = EmailField(
        "New email address",
        filters=[_strip],
        validators=[
            InputRequired("Enter the new address."),
            Email("That doesn't look like an email address."),
            Length(max=254),
        ],
        render_kw={"autocomplete": "email"},
    )
    current_password = _current_password()


class DeleteAccountForm(FlaskForm):
    confirmation = PasswordField(
        "Your password (or, without one, your email address)",
        validators=[InputRequired("Confirm with your password."), Length(max=MAX_PASSWORD_LENGTH)],
        render_kw={"autocomplete": "current-password"},
    )


class ApiTokenForm(FlaskForm):
    name = StringField(
        "Token name",
        filters=[_strip],
        validators=[InputRequired("Say what the token is for."), Length(max=100)],
        description="What it is for, e.g. “docs build” or “support dashboard”.",
        render_kw={"autocomplete": "off"},
    )
    current_password = _current_password()


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=[SelectChoice(r.value, r.value.title()) for r in Role])
    team_id = SelectField("Team", coerce=int, choices=[SelectChoice("0", "—")])
