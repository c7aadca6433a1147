"""What every alerting route shares: reading a JSON body (NUL characters refused wherever they
hide), validating it into a problem document naming the field, and the 4xx answers declared."""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

from pacta.problems import Problem, validation_errors

M = TypeVar("M", bound=BaseModel)
PROBLEM = {
    "content": {
        "application/problem+json": {
            "schema": {
                "type": "object",
                "properties": {
                    "type": {"type": "string"},
                    "title": {"type": "string"},
                    "status": {"type": "integer"},
                    "detail": {"type": "string"},
                    "instance": {"type": "string"},
                    "errors": {"type": "array", "items": {"type": "object"}},
                },
            }
        }
    }
}
_TEXT = {
    400: "Malformed JSON",
    401: "No or unknown API key",
    403: "The key's role may not do this",
    404: "Not found",
    409: "Conflict",
    413: "Body too large",
    422: "Invalid input (the problem names the field)",
}


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {c: {"description": _TEXT[c], **PROBLEM} for c in codes}


READ = responses(401, 422)
WRITE = responses(400, 401, 403, 413, 422)


def _nul_path(value: Any, path: str) -> str | None:
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for k, v in value.items():
            here = f"{path}.{k}" if path else str(k)
            if "\x00" in str(k):
                return here
            found = _nul_path(v, here)
            if found:
                return found
    if isinstance(value, list):
        for i, v in enumerate(value):
            found = _nul_path(v, f"{path}.{i}" if path else str(i))
            if found:
                return found
    return None


async def json_body(request: Request) -> Any:
    try:
        data = await request.json()
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise Problem(400, "Malformed JSON", "the body is not valid JSON") from None
    try:
        where = _nul_path(data, "")
    except RecursionError:
        raise Problem(400, "Malformed JSON", "the body is nested too deeply") from None
    if where is not None:
        raise invalid([{"field": where or "body", "message": "must not contain NUL characters"}])
    return data


def invalid(errors: list[dict[str, Any]]) -> Problem:
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    return Problem(422, "Invalid body", detail, errors=errors)


def validate(model: type[M], data: Any, prefix: str = "") -> M:
    """`data` as `model`, or a 422 problem naming each field that is wrong."""
    if not isinstance(data, dict):
        # JSON null, a list, a number: every body here is an object
        raise invalid([{"field": prefix or "body", "message": "must be a JSON object"}])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [_named(e) for e in validation_errors(exc.errors())]
        if prefix:
            errors = [{**e, "field": f"{prefix}.{e['field']}".rstrip(".")} for e in errors]
        raise invalid(errors) from None
    except RecursionError:
        raise invalid([{"field": prefix or "body", "message": "nested too deeply"}]) from None
    except ValueError as exc:  # a validator outside pydantic's own (a receiver type lookup)
        field, _, message = str(exc).partition(": ")
        raise invalid(
            [{"field": field if message else "body", "message": message or field}]
        ) from None


def _named(error: dict[str, Any]) -> dict[str, Any]:
    """A whole-object check says which field it is about as `field: message`."""
    message = str(error["message"]).removeprefix("Value error, ")
    name, sep, rest = message.partition(": ")
    if sep and name.replace("_", "").replace(".", "").isalnum() and " " not in name:
        base = "" if error["field"] == "body" else f"{error['field']}."
        return {"field": base + name, "message": rest}
    return {**error, "message": message}


def body_schema(model: type[Any]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }
