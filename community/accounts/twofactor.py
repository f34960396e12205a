"""Two-factor authentication: TOTP enrolment, codes at sign-in, one-time recovery codes, and the
support handbook's rule for removing someone else's two-factor (the owner confirms by email).

A TOTP code is accepted at most once per account. Each accepted code's time step is written to
the audit trail with the event it authorised (``totp_step`` and ``device``, a short hash of the
secret, in the event's data), and a code is only accepted for a step later than every step
accepted for the same secret in the last few minutes. That record is
per account and on the server, so a code seen over someone's shoulder, or phished and replayed
from another browser, is refused even within its 90 seconds of validity; a per-session marker
would only stop a replay from the same browser. The audit trail was chosen over a new column
because the schema may not change here; when it can, a ``users.totp_last_step`` column updated
with ``WHERE totp_last_step < :step`` would do the same in one statement.

Services flush and never commit; emails go through the outbox.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from datetime import timedelta
from typing import Any

import pyotp
import sqlalchemy as sa
from flask import current_app
from werkzeug.security import check_password_hash

from community.accounts import tokens
from community.accounts.models import RecoveryCode, User
from community.db import utcnow
from community.errors import Conflict, DomainError, NotAllowed
from community.extensions import db
from community.moderation import audit
from community.moderation.models import AuditEvent
from community.notifications.emails import Email, builder, queue_email
from community.web import external_url

STEP_SECONDS = 30
# One step either side of now: tolerates about 30 seconds of clock drift on the phone.
VALID_WINDOW = 1
# Long enough to cover every step a code could still be accepted in (three steps), twice over.
REUSE_LOOKBACK = timedelta(seconds=STEP_SECONDS * (2 * VALID_WINDOW + 1) * 2)
RECOVERY_CODE_COUNT = 10
# Crockford's base32 (no i, l, o, u): 10 characters carry 50 random bits.
RECOVERY_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
RECOVERY_CODE_LENGTH = 10
REMOVAL_PURPOSE = "2fa-removal"
REMOVAL_LINK_MAX_AGE_HOURS = 24

TOTP = "totp"
RECOVERY_CODE = "recovery_code"

ENABLED = "two_factor.enabled"
SIGNED_IN = "two_factor.signed_in"
RECOVERY_CODES_REGENERATED = "two_factor.recovery_codes_regenerated"
DISABLED = "two_factor.disabled"
REMOVAL_REQUESTED = "two_factor.removal_requested"
REMOVAL_EMAIL_QUEUED = "two_factor.removal_email_queued"
REMOVAL_CONFIRMED = "two_factor.removal_confirmed"
REMOVED = "two_factor.removed"
# The audit actions that may carry the time step of a TOTP code they accepted.
_CODE_ACTIONS = (ENABLED, SIGNED_IN, RECOVERY_CODES_REGENERATED, DISABLED)

_SIX_DIGITS = re.compile(r"\d{6}")
_CROCKFORD_ALIASES = str.maketrans({"i": "1", "l": "1", "o": "0"})


class WrongCode(DomainError):
    def __init__(self, message: str | None = None) -> None:
        super().__init__(
            message
            or "That code didn't work. Enter the newest 6-digit code from your app, or one of "
            "your recovery codes."
        )


class CodeAlreadyUsed(WrongCode):
    def __init__(self) -> None:
        super().__init__("That code was already used. Wait for your app to show the next one.")


class NotConfirmed(DomainError):
    """Turning off or regenerating needs proof: a current code or the password."""


class InvalidRemovalLink(DomainError):
    def __init__(self) -> None:
        super().__init__("This link has expired, was already used, or no longer applies.")


# -- enrolment ------------------------------------------------------------------------------------


def begin_enrolment(user: User) -> str:
    """Give ``user`` a new secret to scan; two-factor is on only once a code confirms it."""
    if user.has_two_factor:
        raise Conflict("Two-factor authentication is already on.")
    user.totp_secret = pyotp.random_base32()
    db.session.flush()
    return user.totp_secret


def provisioning_uri(user: User) -> str:
    """The ``otpauth://`` URI an authenticator app reads from the QR code."""
    if not user.totp_secret:
        raise Conflict("Start the set-up first.")
    return pyotp.TOTP(user.totp_secret).provisioning_uri(
        name=user.email, issuer_name=current_app.config["SITE_NAME"]
    )


def confirm_enrolment(user: User, code: str) -> list[str]:
    """Turn two-factor on once ``code`` matches the new secret. Returns the recovery codes, in
    clear, for showing once; only their hashes are kept."""
    if user.has_two_factor:
        raise Conflict("Two-factor authentication is already on.")
    if not user.totp_secret:
        raise Conflict("Start the set-up first.")
    _lock(user)
    proof = _accept_totp(user, code)
    user.totp_enabled_at = utcnow()
    codes = _replace_recovery_codes(user)
    # Sessions that only passed the password must not now count as two-factor sessions.
    user.session_version = User.session_version + 1
    db.session.flush()
    db.session.refresh(user, ["session_version"])
    event = audit.record(ENABLED, actor_id=user.id, target_type="user", target_id=user.id, **proof)
    _notify(user, "enabled", event)
    return codes


# -- signing in -----------------------------------------------------------------------------------


def verify_second_factor(user: User, code: str) -> str:
    """Check a sign-in's second factor: a TOTP code or an unused recovery code. Returns which
    (``TOTP`` or ``RECOVERY_CODE``) and records it; raises WrongCode or CodeAlreadyUsed."""
    if not user.has_two_factor or not user.totp_secret:
        raise Conflict("Two-factor authentication is not on for this account.")
    _lock(user)
    method, data = _check_code(user, code)
    event = audit.record(
        SIGNED_IN, actor_id=user.id, target_type="user", target_id=user.id, method=method, **data
    )
    if method == RECOVERY_CODE:
        _notify(user, "recovery_code_used", event)
    return method


def remaining_recovery_codes(user: User) -> int:
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    )


# -- managing it ----------------------------------------------------------------------------------


def regenerate_recovery_codes(
    user: User, *, code: str | None = None, password: str | None = None
) -> list[str]:
    """New recovery codes (the old ones stop working), after a current code or the password."""
    if not user.has_two_factor:
        raise Conflict("Two-factor authentication is not on.")
    _lock(user)
    proof = _reauthenticate(user, code, password)
    codes = _replace_recovery_codes(user)
    event = audit.record(
        RECOVERY_CODES_REGENERATED,
        actor_id=user.id,
        target_type="user",
        target_id=user.id,
        **proof,
    )
    _notify(user, "recovery_codes_regenerated", event)
    return codes


def turn_off(user: User, *, code: str | None = None, password: str | None = None) -> None:
    """Turn two-factor off (or abandon an unfinished set-up), after a code or the password."""
    if not user.totp_secret:
        raise Conflict("Two-factor authentication is not on.")
    if not user.has_two_factor:
        _remove_device(user)  # an unconfirmed secret protects nothing: no proof needed
        return
    _lock(user)
    proof = _reauthenticate(user, code, password)
    _remove_device(user)
    event = audit.record(DISABLED, actor_id=user.id, target_type="user", target_id=user.id, **proof)
    _notify(user, "disabled", event)


# -- removal by an administrator, confirmed by the owner ---------------------------------------


def request_removal(admin: User, user: User) -> AuditEvent:
    """The handbook's rule, step one: an administrator asks, and the owner is emailed a link.
    Nothing about the account changes until the owner confirms."""
    if not admin.is_admin:
        raise NotAllowed("Only administrators can ask to remove someone's two-factor.")
    if user.deleted_at is not None or not user.has_two_factor:
        raise Conflict(f"{user.name} does not use two-factor authentication.")
    if admin.id == user.id:
        raise DomainError("Turn off your own two-factor authentication in your settings.")
    if not user.is_verified:
        raise DomainError(
            f"{user.email} is not verified, so its owner cannot confirm by email. "
            "Ask them to verify it first."
        )
    asked = audit.record(
        REMOVAL_REQUESTED, actor_id=admin.id, target_type="user", target_id=user.id
    )
    queue_email(
        "two_factor_removal",
        {"user_id": user.id, "request_id": asked.id},
        dedupe_key=f"email:two_factor_removal:{asked.id}",
    )
    audit.record(
        REMOVAL_EMAIL_QUEUED,
        actor_id=admin.id,
        target_type="user",
        target_id=user.id,
        request_id=asked.id,
        to=user.email,
    )
    return asked


def removal_token(user: User, request_id: int) -> str:
    """The owner's confirmation link: bound to the request and to the current device, so it
    stops working once the device is removed or replaced."""
    return tokens.make_token(REMOVAL_PURPOSE, user, _device_fingerprint(user), r=request_id)


def read_removal_token(token: str) -> tuple[User, AuditEvent] | None:
    """The account and the administrator's request a removal link is for, while it is valid."""
    found = tokens.read_token(REMOVAL_PURPOSE, token, REMOVAL_LINK_MAX_AGE_HOURS * 3600)
    if found is None:
        return None
    user_id, fingerprint, payload = found
    user = db.session.get(User, user_id)
    if user is None or user.deleted_at is not None or not user.has_two_factor:
        return None
    expected = tokens.account_fingerprint(user, _device_fingerprint(user))
    if not hmac.compare_digest(expected, fingerprint):
        return None
    request_id = payload.get("r")
    asked = db.session.get(AuditEvent, request_id) if isinstance(request_id, int) else None
    if (
        asked is None
        or asked.action != REMOVAL_REQUESTED
        or asked.target_type != "user"
        or asked.target_id != user.id
    ):
        return None
    return user, asked


def confirm_removal(token: str) -> User:
    """The handbook's rule, step two: the owner confirmed by link, so the device goes."""
    found = read_removal_token(token)
    if found is None:
        raise InvalidRemovalLink()
    user, asked = found
    _lock(user)
    steps = {"request_id": asked.id, "requested_by": asked.actor_id}
    # Nobody is signed in: whoever holds the emailed link acts, so the actor is left empty.
    audit.record(REMOVAL_CONFIRMED, actor_id=None, target_type="user", target_id=user.id, **steps)
    _remove_device(user)
    event = audit.record(REMOVED, actor_id=None, target_type="user", target_id=user.id, **steps)
    _notify(user, "removed", event)
    return user


# -- emails ---------------------------------------------------------------------------------------


@builder("two_factor_removal")
def removal_email(params: dict[str, Any]) -> Email | None:
    user = db.session.get(User, params["user_id"])
    asked = db.session.get(AuditEvent, params["request_id"])
    if user is None or user.deleted_at is not None or not user.has_two_factor or asked is None:
        return None  # the owner turned it off meanwhile, or the account is gone
    admin = db.session.get(User, asked.actor_id) if asked.actor_id else None
    return Email(
        user.email,
        user.name,
        "two_factor_removal",
        {
            "user": user,
            "admin_name": admin.name if admin else "An administrator",
            "link": external_url("twofactor.confirm_removal", token=removal_token(user, asked.id)),
            "hours": REMOVAL_LINK_MAX_AGE_HOURS,
        },
    )


@builder("two_factor_changed")
def changed_email(params: dict[str, Any]) -> Email | None:
    """The owner hears of every change to their second factor (and of each recovery code used),
    so a change they did not make does not go unnoticed."""
    user = db.session.get(User, params["user_id"])
    if user is None or user.deleted_at is not None:
        return None
    return Email(
        user.email,
        user.name,
        "two_factor_changed",
        {
            "user": user,
            "change": params["change"],
            "settings_url": external_url("twofactor.settings"),
        },
    )


def _notify(user: User, change: str, event: AuditEvent) -> None:
    queue_email(
        "two_factor_changed",
        {"user_id": user.id, "change": change},
        dedupe_key=f"email:two_factor_changed:{event.id}",
    )


# -- codes ----------------------------------------------------------------------------------------


def _check_code(user: User, code: str) -> tuple[str, dict[str, Any]]:
    """(method, audit data) for a valid TOTP or recovery code; raises WrongCode otherwise."""
    compact = re.sub(r"[\s-]", "", code or "").lower()
    if _SIX_DIGITS.fullmatch(compact):
        return TOTP, _accept_totp(user, compact)
    return RECOVERY_CODE, {"remaining": _use_recovery_code(user, compact)}


def _accept_totp(user: User, code: str) -> dict[str, Any]:
    """What to record of ``code`` (its time step and the secret's short hash), if it is valid
    now and for a later step than any already accepted for this secret."""
    code = re.sub(r"[\s-]", "", code or "")
    if not _SIX_DIGITS.fullmatch(code) or not user.totp_secret:
        raise WrongCode("Enter the 6-digit code from your authenticator app.")
    totp = pyotp.TOTP(user.totp_secret, interval=STEP_SECONDS)
    now_step = totp.timecode(time.time())
    matched = [
        step
        for step in range(now_step - VALID_WINDOW, now_step + VALID_WINDOW + 1)
        if hmac.compare_digest(totp.generate_otp(step), code)
    ]
    if not matched:
        raise WrongCode(
            "That code didn't work. Enter the newest code from your app; if it keeps failing, "
            "check that your phone's clock is set automatically."
        )
    step = matched[0]
    device = _device_id(user)
    last = _last_accepted_step(user, device)
    if last is not None and step <= last:
        raise CodeAlreadyUsed()
    return {"totp_step": step, "device": device}


def _last_accepted_step(user: User, device: str) -> int | None:
    recent = db.session.scalars(
        sa.select(AuditEvent.data).where(
            AuditEvent.target_type == "user",
            AuditEvent.target_id == user.id,
            AuditEvent.action.in_(_CODE_ACTIONS),
            AuditEvent.created_at >= utcnow() - REUSE_LOOKBACK,
        )
    )
    steps = [
        data["totp_step"]
        for data in recent
        if isinstance(data, dict)
        and isinstance(data.get("totp_step"), int)
        and data.get("device") == device
    ]
    return max(steps, default=None)


def _use_recovery_code(user: User, compact: str) -> int:
    """Spend one recovery code; returns how many are left."""
    normalised = compact.translate(_CROCKFORD_ALIASES)
    if len(normalised) != RECOVERY_CODE_LENGTH or set(normalised) - set(RECOVERY_ALPHABET):
        raise WrongCode()
    # A conditional update, so two requests racing with the same code cannot both spend it.
    spent = db.session.execute(
        sa.update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _hash_recovery_code(user, normalised),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if spent.rowcount != 1:
        raise WrongCode()
    return remaining_recovery_codes(user)


def _replace_recovery_codes(user: User) -> list[str]:
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [
        "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))
        for _ in range(RECOVERY_CODE_COUNT)
    ]
    db.session.add_all(
        RecoveryCode(user_id=user.id, code_hash=_hash_recovery_code(user, code)) for code in codes
    )
    db.session.flush()
    return [f"{code[:5]}-{code[5:]}" for code in codes]


def _hash_recovery_code(user: User, normalised: str) -> str:
    """SHA-256 is enough for 50 random bits (a slow hash would only slow sign-in); the user id
    salts it, so a leaked table has to be attacked one account at a time."""
    return hashlib.sha256(f"{user.id}:{normalised}".encode()).hexdigest()


def _reauthenticate(user: User, code: str | None, password: str | None) -> dict[str, Any]:
    """Proof that the person at the keyboard owns the account: a code (TOTP or recovery) or
    the password. Returns what to write in the audit trail."""
    if code and code.strip():
        method, data = _check_code(user, code)
        return {"method": method, **data}
    if password:
        if user.password_hash is None or not check_password_hash(user.password_hash, password):
            raise NotConfirmed("That password isn't right.")
        return {"method": "password"}
    raise NotConfirmed(
        "Enter a code from your authenticator app or a recovery code"
        + (", or your password." if user.password_hash else ".")
    )


def _remove_device(user: User) -> None:
    user.totp_secret = None
    user.totp_enabled_at = None
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    db.session.flush()


def _device_fingerprint(user: User) -> str:
    return hashlib.sha256((user.totp_secret or "").encode()).hexdigest()


def _device_id(user: User) -> str:
    """Tells one enrolled secret from the next in the audit trail, revealing nothing of it."""
    return _device_fingerprint(user)[:12]


def _lock(user: User) -> None:
    """Serialise code checks for one account (PostgreSQL row lock; SQLite has one writer and
    refuses a second transaction that read before the first one wrote)."""
    db.session.execute(sa.select(User.id).where(User.id == user.id).with_for_update())
