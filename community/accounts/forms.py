from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, StringField
from wtforms.validators import Email, InputRequired, Length

from community.accounts.services import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


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
    password = PasswordField(
        "Password",
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
