"""Throttles on the ways into an account, shared by every form that offers them (the site and the
embed), so a second entrance never doubles an attacker's budget.

Sign-in throttles per address (from the form) as well as per IP, so a password spray from many
addresses and a stuffing run against one account are both slowed. The limit applies before the
password is checked: while throttled, even the right password gets 429 (no oracle).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import request
from flask_login import current_user

from community.accounts import services
from community.extensions import limiter

SIGN_IN_PER_IP = "6/minute;30/hour"
# Strict per (address, IP); looser per address from anywhere, so nobody can lock a chosen person
# out from their own network by failing on purpose, while a spray from many IPs still stops.
SIGN_IN_PER_ACCOUNT_AND_IP = "10/hour"
SIGN_IN_PER_ACCOUNT = "40/day"
SIGN_UP_PER_IP = "10/hour"
SIGN_UP_PER_ACCOUNT = "3/hour"  # the owner of a taken address is emailed each time
EMAIL_CHANGE_PER_ACCOUNT = "5/hour"
RESET_PER_IP = "10/hour"
RESET_PER_ACCOUNT = "5/hour"
RESEND_PER_ACCOUNT = "3/hour"
API_TOKENS_CREATED_PER_ACCOUNT = "10/hour"

View = TypeVar("View", bound=Callable)


def form_email_key() -> str:
    return "email:" + services.normalise_email(request.form.get("email", ""))[:254]


def form_email_and_ip_key() -> str:
    return f"{form_email_key()}|ip:{request.remote_addr}"


def user_key() -> str:
    return f"user:{current_user.get_id() if current_user.is_authenticated else 'anonymous'}"


def sign_in_limits(view: View) -> View:
    """Password sign-in: the same counters for every form that checks a password."""
    view = limiter.shared_limit(
        SIGN_IN_PER_ACCOUNT, "sign-in-account", key_func=form_email_key, methods=["POST"]
    )(view)
    view = limiter.shared_limit(
        SIGN_IN_PER_ACCOUNT_AND_IP,
        "sign-in-account-ip",
        key_func=form_email_and_ip_key,
        methods=["POST"],
    )(view)
    return limiter.shared_limit(SIGN_IN_PER_IP, "sign-in-ip", methods=["POST"])(view)


def sign_up_limits(view: View) -> View:
    view = limiter.shared_limit(
        SIGN_UP_PER_ACCOUNT, "sign-up-account", key_func=form_email_key, methods=["POST"]
    )(view)
    return limiter.shared_limit(SIGN_UP_PER_IP, "sign-up-ip", methods=["POST"])(view)
