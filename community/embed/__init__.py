"""The embed: one script tag on a docs page shows that page's questions in an iframe."""

from flask import Flask, g, request

from community.embed import models  # noqa: F401 - the table is part of the schema


def init_app(app: Flask) -> None:
    from community.embed import views

    app.register_blueprint(views.bp)

    @app.before_request
    def _keep_the_popup_opener() -> None:
        # The popup posts the sign-in back to the embed through window.opener. Our usual
        # Cross-Origin-Opener-Policy (same-origin) would cut a popup opened from another site's
        # page off from it, so the pages of the popup's sign-in relax it for that flow only.
        if request.blueprint in POPUP_BLUEPRINTS and views.in_popup_flow():
            g.opener_policy = "unsafe-none"


POPUP_BLUEPRINTS = {"embed", "accounts", "oauth", "twofactor"}
