"""The ingest with its produce-and-claim cycle stubbed: every request's events are answered as
new at once, with no wait on Kafka or PostgreSQL, so a bench sees the HTTP path's own cost.

    .venv/bin/python -m bench.ingest_ab --module bench.ingest_stub --variant base=/tmp/base --variant new=

One worker, as `python -m ingest` with `PACTA_INGEST_WORKERS=1`; the lifespan still connects to
Kafka and PostgreSQL (readiness), nothing is produced or claimed.
"""

from __future__ import annotations

from collections.abc import Sequence

from ingest.app import create_app
from ingest.committer import Committer
from ingest.parsing import Event
from ingest.settings import IngestSettings
from pacta.serve import serve


async def _answer_at_once(self: Committer, events: Sequence[Event]) -> list[Event]:
    return list(events)


def main() -> None:
    setattr(Committer, "submit", _answer_at_once)  # noqa: B010 (a method replaced on purpose)
    settings = IngestSettings()
    serve(create_app(settings), settings, "ingest", settings.ingest_port)


if __name__ == "__main__":
    main()
