"""Route guards by role. Services still check the rules; these keep whole pages closed."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort
from flask_login import current_user, login_required

View = TypeVar("View", bound=Callable[..., Any])


def admin_required(view: View) -> View:
    @wraps(view)
    @login_required
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_admin:
            abort(403, "Only administrators can do that.")
        return view(*args, **kwargs)

    return guarded  # type: ignore[return-value]


def moderator_required(view: View) -> View:
    @wraps(view)
    @login_required
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_moderator:
            abort(403, "Only moderators can do that.")
        return view(*args, **kwargs)

    return guarded  # type: ignore[return-value]
