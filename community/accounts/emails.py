"""The account emails: what they say and the signed links in them. Each builder reloads the
account and returns None when the email no longer makes sense (already verified, deleted)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import current_app

from community.accounts import tokens
from community.accounts.models import User
from community.extensions import db
from community.notifications.emails import Email, builder
from community.web import external_url

VERIFY = "verify-email"
RESET = "reset-password"
CHANGE_EMAIL = "change-email"


def _user(params: dict[str, Any]) -> User | None:
    user = db.session.get(User, params["user_id"])
    return None if user is None or user.deleted_at is not None else user


@builder("verify_email")
def verify_email(params: dict[str, Any]) -> Email | None:
    user = _user(params)
    if user is None or user.is_verified:
        return None
    token = tokens.make_token(VERIFY, user, draft=params.get("draft"), next=params.get("next"))
    return Email(
        user.email,
        user.name,
        "verify_email",
        {
            "user": user,
            "link": external_url("accounts.verify", token=token),
            "hours": current_app.config["VERIFY_EMAIL_MAX_AGE_HOURS"],
        },
    )


@builder("account_exists")
def account_exists(params: dict[str, Any]) -> Email | None:
    """Someone signed up with an address that has an account: tell its owner, not the visitor."""
    user = _user(params)
    if user is None:
        return None
    return Email(
        user.email,
        user.name,
        "account_exists",
        {
            "user": user,
            "sign_in_url": external_url("accounts.sign_in"),
            "reset_url": external_url("accounts.request_reset"),
        },
    )


@builder("reset_password")
def reset_password(params: dict[str, Any]) -> Email | None:
    user = (
        db.session.scalar(sa.select(User).where(User.email == params["email"]))
        if "email" in params
        else db.session.get(User, params.get("user_id"))
    )
    if user is None or user.deleted_at is not None:
        return None  # no account: nothing is sent (the visitor was told the same either way)
    token = tokens.make_token(RESET, user)
    return Email(
        user.email,
        user.name,
        "reset_password",
        {
            "user": user,
            "link": external_url("accounts.reset", token=token),
            "minutes": current_app.config["RESET_PASSWORD_MAX_AGE_MINUTES"],
        },
    )


@builder("password_changed")
def password_changed(params: dict[str, Any]) -> Email | None:
    user = _user(params)
    if user is None:
        return None
    return Email(
        user.email,
        user.name,
        "password_changed",
        {"user": user, "reset_url": external_url("accounts.request_reset")},
    )


@builder("confirm_email_change")
def confirm_email_change(params: dict[str, Any]) -> Email | None:
    """Sent to the new address: the change happens only when its owner follows the link."""
    user = _user(params)
    if user is None:
        return None
    new_email = params["new_email"]
    token = tokens.make_token(CHANGE_EMAIL, user, new_email, new_email=new_email)
    return Email(
        new_email,
        user.name,
        "confirm_email_change",
        {
            "user": user,
            "new_email": new_email,
            "link": external_url("accounts.confirm_email_change", token=token),
            "hours": current_app.config["VERIFY_EMAIL_MAX_AGE_HOURS"],
        },
    )


@builder("email_change_requested")
def email_change_requested(params: dict[str, Any]) -> Email | None:
    """Sent to the old address, so a hijacked session cannot move the account silently."""
    user = _user(params)
    if user is None:
        return None
    return Email(
        params["old_email"],
        user.name,
        "email_change_requested",
        {
            "user": user,
            "new_email": params["new_email"],
            "changed": params.get("changed", False),
            "reset_url": external_url("accounts.request_reset"),
        },
    )
