"""One HTTP client for the four services; a non-2xx answer becomes an `ApiError` that prints the
problem document's fields and exits with a code a script can test."""

from __future__ import annotations

from typing import IO, Any

import click
import httpx

from pacta_cli.config import Config

EXIT_OK, EXIT_API, EXIT_USAGE = 0, 1, 2
"""0: done; 1: the server refused or could not be reached; 2: bad usage or invalid input (a
422 or 400 naming the field counts as invalid input, like a bad flag)."""
SERVICE_NAMES = {
    "ingest": "ingest",
    "sla_engine": "sla-engine",
    "alerting": "alerting",
    "reporting": "reporting",
}


class ApiError(click.ClickException):
    """A request that did not succeed: the status, the problem's title and detail, and one line
    per field the problem names."""

    exit_code = EXIT_API

    def __init__(self, what: str, status: int | None, problem: dict[str, Any] | None) -> None:
        self.what, self.status, self.problem = what, status, problem or {}
        super().__init__(self._text())

    def _text(self) -> str:
        p = self.problem
        head = f"{self.what}: {self.status} {p.get('title', '')}".rstrip()
        lines = [head]
        errors = p.get("errors")
        if isinstance(errors, list) and errors:
            for error in errors:
                if isinstance(error, dict):
                    lines.append(f"  {error.get('field', '?')}: {error.get('message', '')}")
        elif p.get("detail"):
            lines.append(f"  {p['detail']}")
        return "\n".join(lines)

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"pacta: {self.message}", err=True, file=file)


class InvalidInput(ApiError):
    """A 400 or 422: the input was wrong, like a bad flag (exit 2)."""

    exit_code = EXIT_USAGE


class Unreachable(click.ClickException):
    exit_code = EXIT_API

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"pacta: {self.message}", err=True, file=file)


class Api:
    """Requests to one stack; `service` is one of ingest, sla_engine, alerting, reporting."""

    def __init__(self, config: Config, *, timeout: float = 30.0) -> None:
        self.config = config
        headers = {"Accept": "application/json, application/problem+json"}
        if config.api_key:
            headers["Authorization"] = f"Bearer {config.api_key}"
        self.http = httpx.Client(timeout=timeout, headers=headers)

    def close(self) -> None:
        self.http.close()

    def request(
        self,
        service: str,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        ok: tuple[int, ...] = (),
    ) -> httpx.Response:
        """The answer, if 2xx or listed in `ok`; else an ApiError naming the request."""
        if not self.config.api_key and not path.startswith(("/healthz", "/readyz")):
            raise click.UsageError(
                "no API key: set PACTA_API_KEY or api_key in the config file "
                "(a fresh checkout accepts dev-admin-key)"
            )
        url = self.config.urls[service] + path
        try:
            answer = self.http.request(
                method, url, json=json, params=params, content=content, headers=headers
            )
        except httpx.HTTPError as exc:
            raise Unreachable(
                f"{SERVICE_NAMES[service]} at {self.config.urls[service]} does not answer "
                f"({exc.__class__.__name__}: {exc}); is the stack running (`make up`)?"
            ) from None
        if answer.is_success or answer.status_code in ok:
            return answer
        error = InvalidInput if answer.status_code in (400, 422) else ApiError
        raise error(f"{method} {path}", answer.status_code, _problem(answer))

    def get(self, service: str, path: str, **kw: Any) -> Any:
        return self.request(service, "GET", path, **kw).json()

    def put(self, service: str, path: str, body: Any) -> Any:
        return self.request(service, "PUT", path, json=body).json()

    def post(self, service: str, path: str, body: Any) -> Any:
        return self.request(service, "POST", path, json=body).json()

    def find(self, service: str, path: str) -> Any | None:
        """GET, or None on 404 (a resource that does not exist yet)."""
        answer = self.request(service, "GET", path, ok=(404,))
        return None if answer.status_code == 404 else answer.json()


def _problem(answer: httpx.Response) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        return {"title": answer.reason_phrase, "detail": answer.text[:500]}
    return body if isinstance(body, dict) else {"detail": str(body)[:500]}
