"""community: question-and-answer threads for documentation pages."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_path=str(ROOT / "instance"),
        instance_relative_config=True,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )

    from community import config

    config.load(app, test_config)

    from community import database, demo, templating, web
    from community.db import render_migration_type
    from community.extensions import csrf, db, limiter, login_manager, migrate

    db.init_app(app)
    migrate.init_app(
        app,
        db,
        directory=str(ROOT / "migrations"),
        compare_type=True,
        render_item=render_migration_type,
    )
    csrf.init_app(app)
    login_manager.init_app(app)
    limiter.init_app(app)
    database.init_app(app)
    web.init_app(app)
    templating.init_app(app)

    from community import (
        accounts,
        api,
        embed,
        hero,
        jobs,
        moderation,
        notifications,
        questions,
        search,
        zendesk,
    )

    accounts.init_app(app)
    questions.init_app(app)
    search.init_app(app)
    jobs.init_app(app)
    notifications.init_app(app)
    moderation.init_app(app)
    zendesk.init_app(app)
    embed.init_app(app)
    hero.init_app(app)
    api.init_app(app)
    demo.init_app(app)
    # In front of the app, with every route known; the proxy fix goes outermost, so the cache
    # sees the client's scheme and host as the app does.
    from community.questions import page_cache

    page_cache.init_app(app)
    web.trust_proxies(app)
    return app
