"""What migration 0013 adds to the schema outside the models: PostgreSQL's ``search_vector``
column and its indexes (GIN on it and on subjects, btree on the subject as compared for an exact
match); SQLite's FTS5 table ``questions_search`` (with the shadow tables FTS5 makes for it) and
the view it reads. The models never map them, so autogenerate and ``flask db check``
(migrations/env.py) and the drift test must leave them out, or they would ask to drop them."""

from __future__ import annotations

from typing import Any

SEARCH_COLUMNS = {("questions", "search_vector")}
SEARCH_INDEXES = {
    "ix_questions_search_vector",
    "ix_questions_search_subject",
    "ix_questions_search_subject_key",
}
SEARCH_TABLE_PREFIX = "questions_search"


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Alembic's ``include_object`` hook: False for the search objects above."""
    if type_ == "table" and reflected and compare_to is None:
        return not (name or "").startswith(SEARCH_TABLE_PREFIX)
    if type_ == "column":
        return (obj.table.name, name) not in SEARCH_COLUMNS
    if type_ == "index":
        return name not in SEARCH_INDEXES
    return True
