"""Identities: the rules for signing in with, linking and unlinking identity providers.

An identity is keyed by (provider, subject), never by email. An email address from a provider is
used only to find or create an account on the first sign-in, and only when the provider verified
it (and, for a generic OpenID Connect provider, an admin said it verifies addresses). A local
account is connected to a provider through its email only if that account's address is verified
too; an unverified account is never handed to someone else, because whoever created it may not
own the address (the pre-hijacking attacks). Services flush, never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from werkzeug.routing import BuildError

from community.accounts import oauth
from community.accounts.models import Identity, User
from community.accounts.oauth import ProviderProfile
from community.accounts.services import create_user, find_user_by_email, normalise_email
from community.db import utcnow
from community.errors import Conflict, NotAllowed, NotFound
from community.extensions import db
from community.moderation import audit
from community.notifications.emails import Email, builder, queue_email
from community.web import external_url

NAME_MAX_LENGTH = 80
EMAIL_MAX_LENGTH = 254


class AccountUnavailable(NotAllowed):
    def __init__(self) -> None:
        super().__init__("This account is suspended or closed, so it can't sign in.")


class EmailNotVerified(NotAllowed):
    """The provider gave no address we can trust, so it cannot find or create an account."""


class UnverifiedAccountExists(Conflict):
    """An account has this address but never proved it: its creator may not own the address."""


class IdentityTaken(Conflict):
    pass


class ReauthenticationRequired(NotAllowed):
    def __init__(self) -> None:
        super().__init__("For your security, sign in again before changing how you sign in.")


class LastSignInMethod(Conflict):
    pass


@dataclass(frozen=True)
class SignIn:
    """Whom a provider sign-in signs in, and what happened on the way."""

    user: User
    identity: Identity
    created: bool = False  # a new account was made
    linked: bool = False  # the identity was just connected to an existing account


# -- signing in ---------------------------------------------------------------------------------


def sign_in_with(profile: ProviderProfile) -> SignIn:
    """The account a provider sign-in opens: the one the identity is linked to; else the account
    with the provider's verified address, if that account is verified too (the identity is linked
    and the owner told); else a new verified account without a password. Refuses with a message
    fit to show in every other case."""
    identity = find_identity(profile.provider, profile.subject)
    if identity is not None:
        user = db.session.get(User, identity.user_id)
        if user is None or not user.is_active:
            raise AccountUnavailable()
        _refresh(identity, profile)
        return SignIn(user, identity)

    email = _trusted_email(profile)
    existing = find_user_by_email(email)
    if existing is not None:
        if not existing.is_active:
            raise AccountUnavailable()
        if not existing.is_verified:
            raise UnverifiedAccountExists(
                f"An account with {email} already exists here, but its address was never "
                f"confirmed, so we won't connect it to {profile.provider_name}. If it is yours, "
                "sign in with its password, or reset the password (that confirms the address), "
                f"then link {profile.provider_name} from your account settings."
            )
        identity = _link(existing, profile, via="email match")
        return SignIn(existing, identity, linked=True)

    user = create_user(email, _name_for(profile, email), None, verified=True)
    identity = _add_identity(user, profile)
    audit.record(
        "identity.linked",
        actor_id=user.id,
        target_type="user",
        target_id=user.id,
        provider=profile.provider,
        identity_id=identity.id,
        via="sign up",
    )
    return SignIn(user, identity, created=True)


def _trusted_email(profile: ProviderProfile) -> str:
    name = profile.provider_name
    if not profile.provider_verifies_email:
        raise EmailNotVerified(
            f"{name} doesn't confirm email addresses to us, so it can't be used to create or "
            f"find an account. Sign in with your email address (or create an account), then "
            f"link {name} from your account settings."
        )
    if not profile.email:
        raise EmailNotVerified(
            f"{name} didn't share an email address with us. Add a verified email address to "
            f"your {name} account (and let us see it), then try again."
        )
    if len(profile.email) > EMAIL_MAX_LENGTH or "@" not in profile.email:
        raise EmailNotVerified(f"We can't use the email address {name} gave us.")
    if not profile.email_verified:
        raise EmailNotVerified(
            f"{name} says your email address isn't verified. Verify it with {name} and try "
            "again, or sign up with your email address instead."
        )
    return normalise_email(profile.email)


def _name_for(profile: ProviderProfile, email: str) -> str:
    name = " ".join((profile.display_name or "").split())
    return (name or email.split("@")[0])[:NAME_MAX_LENGTH]


# -- linking from settings ---------------------------------------------------------------------


def check_can_link(user: User, *, recently_signed_in: bool) -> None:
    """Linking changes how an account can be entered: only a verified account, and only from a
    session that signed in moments ago (re-authentication)."""
    if not user.is_verified:
        raise NotAllowed(
            "Confirm your email address before linking another way to sign in. We sent you a "
            "link when you signed up."
        )
    if not recently_signed_in:
        raise ReauthenticationRequired()


def link_identity(user: User, profile: ProviderProfile) -> tuple[Identity, bool]:
    """Connect the identity to ``user``, who is signed in and started the link. Returns the
    identity and whether it is new (False: it was already theirs)."""
    if not user.is_verified:
        raise NotAllowed("Confirm your email address before linking another way to sign in.")
    identity = find_identity(profile.provider, profile.subject)
    if identity is not None:
        if identity.user_id != user.id:
            raise IdentityTaken(
                f"This {profile.provider_name} account is already linked to another account "
                f"here. Sign in with it and unlink it there first."
            )
        _refresh(identity, profile)
        return identity, False
    return _link(user, profile, via="settings"), True


def _link(user: User, profile: ProviderProfile, *, via: str) -> Identity:
    identity = _add_identity(user, profile)
    audit.record(
        "identity.linked",
        actor_id=user.id,
        target_type="user",
        target_id=user.id,
        provider=profile.provider,
        identity_id=identity.id,
        via=via,
    )
    queue_email(
        "identity_linked",
        {
            "user_id": user.id,
            "provider": profile.provider,
            "provider_email": profile.email,
            "at": utcnow().isoformat(),
        },
    )
    return identity


def _add_identity(user: User, profile: ProviderProfile) -> Identity:
    identity = Identity(
        user_id=user.id,
        provider=profile.provider,
        subject=profile.subject,
        email=_clip(profile.email, 254),
        email_verified=profile.email_verified,
        display_name=_clip(profile.display_name, 200),
        last_used_at=utcnow(),
    )
    db.session.add(identity)
    db.session.flush()
    return identity


def _refresh(identity: Identity, profile: ProviderProfile) -> None:
    """Keep what the provider says now (an address can change); the account's own email is
    never touched by it."""
    identity.email = _clip(profile.email, 254)
    identity.email_verified = profile.email_verified
    identity.display_name = _clip(profile.display_name, 200)
    identity.last_used_at = utcnow()
    db.session.flush()


# -- unlinking ---------------------------------------------------------------------------------


def unlink_identity(user: User, identity_id: int, *, recently_signed_in: bool) -> Identity:
    """Remove one of the user's identities; never the last way into the account."""
    identity = db.session.get(Identity, identity_id)
    if identity is None or identity.user_id != user.id:
        raise NotFound("That sign-in method is not linked to your account.")
    if not recently_signed_in:
        raise ReauthenticationRequired()
    others = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Identity)
        .where(Identity.user_id == user.id, Identity.id != identity.id)
    )
    if user.password_hash is None and not others:
        name = oauth.provider_name(identity.provider)
        raise LastSignInMethod(
            f"{name} is the only way you can sign in, so it can't be unlinked. Set a password "
            "or link another provider first."
        )
    db.session.delete(identity)
    audit.record(
        "identity.unlinked",
        actor_id=user.id,
        target_type="user",
        target_id=user.id,
        provider=identity.provider,
        identity_id=identity.id,
    )
    queue_email(
        "identity_unlinked",
        {
            "user_id": user.id,
            "provider": identity.provider,
            "provider_email": identity.email,
            "at": utcnow().isoformat(),
        },
    )
    db.session.flush()
    return identity


# -- reading -----------------------------------------------------------------------------------


def find_identity(provider: str, subject: str) -> Identity | None:
    return db.session.scalar(
        sa.select(Identity).where(Identity.provider == provider, Identity.subject == subject)
    )


def identities_of(user: User) -> list[Identity]:
    return list(
        db.session.scalars(
            sa.select(Identity)
            .where(Identity.user_id == user.id)
            .order_by(Identity.created_at, Identity.id)
        )
    )


def _clip(value: str | None, length: int) -> str | None:
    return value[:length] if value else None


# -- emails to the account owner -----------------------------------------------------------------


def _notice(params: dict[str, Any], template: str) -> Email | None:
    user = db.session.get(User, params["user_id"])
    if user is None or user.deleted_at is not None or not user.is_verified:
        return None
    return Email(
        user.email,
        user.name,
        template,
        {
            "user": user,
            "provider_name": oauth.provider_name(str(params["provider"])),
            "provider_email": params.get("provider_email"),
            "when": _when(params),
            "settings_url": external_url("oauth.identities"),
            "reset_url": _reset_url(),
        },
    )


def _when(params: dict[str, Any]) -> datetime:
    try:
        return datetime.fromisoformat(str(params["at"]))
    except (KeyError, ValueError):
        return utcnow()


def _reset_url() -> str | None:
    try:
        return external_url("accounts.request_reset")
    except BuildError:  # the reset page is optional to this email
        return None


@builder("identity_linked")
def identity_linked_email(params: dict[str, Any]) -> Email | None:
    return _notice(params, "identity_linked")


@builder("identity_unlinked")
def identity_unlinked_email(params: dict[str, Any]) -> Email | None:
    return _notice(params, "identity_unlinked")
