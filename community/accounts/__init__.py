"""Accounts: users, roles, sign-up, sign-in, sessions."""

from flask import Flask

from community.extensions import login_manager


def init_app(app: Flask) -> None:
    from community.accounts import cli, services, twofactor_views, views
    from community.accounts.cookies import SessionCookies

    app.session_interface = SessionCookies()

    login_manager.login_view = "accounts.sign_in"
    login_manager.login_message = "Sign in to continue."
    login_manager.login_message_category = "info"
    login_manager.user_loader(services.load_user_for_session)
    app.register_blueprint(views.bp)
    app.register_blueprint(twofactor_views.bp)
    app.register_blueprint(cli.bp)
    from community.accounts import oauth_views

    oauth_views.init_app(app)
