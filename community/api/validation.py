"""What a JSON request body must look like, declared once: the same declarations check bodies
(422 with one error per field) and become the request schemas of the OpenAPI document.

This checks shape only (types, presence, lengths from the services' own limits); the rules of a
thread stay in the services, whose errors the views answer with their own status.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from community.api.http import ApiProblem
from community.db import MAX_ID

_MISSING = object()


@dataclass(frozen=True)
class Text:
    description: str
    max_length: int
    required: bool = True
    nullable: bool = False
    allow_blank: bool = False
    example: str | None = None

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": ["string", "null"] if self.nullable else "string",
            "description": self.description,
            "maxLength": self.max_length,
        }
        if self.example is not None:
            schema["examples"] = [self.example]
        if not self.allow_blank:
            schema["minLength"] = 1
            schema["pattern"] = r"\S"  # not only white space
        return schema

    def clean(self, value: Any) -> tuple[Any, str | None]:
        if value is None:
            return ("", None) if self.nullable else (None, "must be a string, not null")
        if not isinstance(value, str):
            return None, "must be a string"
        if len(value) > self.max_length:
            return None, f"must be at most {self.max_length:,} characters long"
        if "\x00" in value:
            return None, "must not contain NUL characters"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate escape such as "\ud800"
            return None, "must be valid Unicode text"
        if not self.allow_blank and not value.strip():
            return None, "must not be blank"
        return value, None


@dataclass(frozen=True)
class RowId:
    description: str
    required: bool = True
    nullable: bool = False

    def schema(self) -> dict[str, Any]:
        return {
            "type": ["integer", "null"] if self.nullable else "integer",
            "description": self.description,
            "minimum": 1,
            "maximum": MAX_ID,
        }

    def clean(self, value: Any) -> tuple[Any, str | None]:
        if value is None:
            return (None, None) if self.nullable else (None, "must be an integer, not null")
        if isinstance(value, bool) or not isinstance(value, int):
            return None, "must be an integer"
        if not 1 <= value <= MAX_ID:
            return None, f"must be between 1 and {MAX_ID}"
        return value, None


Field = Text | RowId


class Body:
    """A JSON object with exactly these fields (unknown ones are refused, not ignored)."""

    def __init__(self, name: str, description: str, **fields: Field) -> None:
        self.name = name
        self.description = description
        self.fields = fields

    def schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "description": self.description,
            "properties": {name: field.schema() for name, field in self.fields.items()},
            "required": [name for name, field in self.fields.items() if field.required],
            "additionalProperties": False,
        }

    def validate(self, document: Any) -> dict[str, Any]:
        """The cleaned fields, or a 422 problem listing every field that is wrong."""
        if not isinstance(document, dict):
            raise invalid([{"pointer": "#", "detail": "The body must be a JSON object."}])
        errors = []
        cleaned: dict[str, Any] = {}
        for name, field in self.fields.items():
            value = document.get(name, _MISSING)
            if value is _MISSING:
                if field.required:
                    errors.append(_error(name, "is required"))
                continue
            cleaned[name], message = field.clean(value)
            if message:
                errors.append(_error(name, message))
        unknown = sorted(key for key in document if key not in self.fields)
        errors.extend(_error(name, "is not a field of this request") for name in unknown[:10])
        if errors:
            raise invalid(errors)
        return cleaned


def invalid(errors: list[dict[str, str]]) -> ApiProblem:
    return ApiProblem(
        422, "Unprocessable Content", "The request body has errors: see `errors`.", errors=errors
    )


def field_error(name: str, detail: str) -> dict[str, str]:
    return _error(name, detail)


def _error(name: str, detail: str) -> dict[str, str]:
    shown = name if len(name) <= 100 else name[:100] + "…"
    # A JSON Pointer (RFC 6901) into the request body, as a URI fragment (RFC 9457's example).
    pointer = "#/" + shown.replace("~", "~0").replace("/", "~1")
    return {"pointer": pointer, "field": shown, "detail": f"{shown} {detail}"}
