from __future__ import annotations

import click
from flask import Blueprint

from community.accounts import services
from community.accounts.models import Role
from community.errors import DomainError
from community.extensions import db

bp = Blueprint("users", __name__, cli_group="users")


@bp.cli.command("create")
@click.argument("email")
@click.option("--name", required=True, help="Display name.")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Prompted for when left out, so it stays out of shell history.",
)
@click.option(
    "--role",
    type=click.Choice([r.value for r in Role]),
    default=Role.MEMBER.value,
    show_default=True,
)
def create(email: str, name: str, password: str, role: str) -> None:
    """Create an account (counted as verified: an operator vouches for it)."""
    try:
        user = services.create_user(email, name, password, role=Role(role), verified=True)
    except DomainError as error:
        raise click.ClickException(str(error)) from error
    db.session.commit()
    click.echo(f"Created {user.role} {user.email} (id {user.id}).")


@bp.cli.command("token")
@click.argument("email")
@click.option("--name", default="Command line", show_default=True, help="What the token is for.")
def token(email: str, name: str) -> None:
    """Print a new personal API token for the account (for scripts: only the token is printed).

    Anyone who can run this can act as the account through the API; revoke tokens in the
    account's settings.
    """
    user = services.find_user_by_email(email)
    if user is None or user.deleted_at is not None:
        raise click.ClickException(f"No account has the address {email}.")
    try:
        _row, secret = services.create_api_token(user, name)
    except DomainError as error:
        raise click.ClickException(str(error)) from error
    db.session.commit()
    click.echo(secret)
