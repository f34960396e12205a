"""Questions: doc pages, topics, questions, replies and accepted answers."""

from flask import Flask

from community import signals


def init_app(app: Flask) -> None:
    from community.questions import drafts, snapshots, views

    app.register_blueprint(views.bp)
    app.extensions["page_snapshot_build"] = snapshots.compute_build(app)
    app.jinja_env.globals["pending_draft"] = drafts.pending_draft
    signals.user_signed_in.connect(drafts.post_pending_draft, app)
    signals.email_verified.connect(_publish_held_posts, app)


def _publish_held_posts(_sender: Flask, user, **_extra) -> None:
    from community.questions import services

    services.publish_held_posts(user)
