"""The 4xx answers the sla-engine's routes give, declared in its OpenAPI document as RFC 9457
problem documents (schemathesis holds each route to the codes it declares)."""

from __future__ import annotations

from typing import Any

from pacta.problems import problem_answer

_MEANING = {
    400: "Malformed JSON",
    401: "No valid API key",
    403: "The key's role may not change this",
    404: "No such resource",
    409: "Conflicts with what exists (built in, in use, or another body under the same id)",
    422: "A field, path segment or query parameter is invalid; `errors` names each one",
}


def answers(*codes: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries for these problem answers."""
    return {code: problem_answer(_MEANING[code]) for code in codes}
