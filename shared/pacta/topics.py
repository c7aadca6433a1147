"""`python -m pacta.topics`: create Pacta's Kafka topics (the bootstrap step of `make up`)."""

from __future__ import annotations

import asyncio

from pacta.kafka import ensure_topics
from pacta.logs import configure_logging
from pacta.settings import CommonSettings


def main() -> None:
    settings = CommonSettings()
    configure_logging(settings.log_level, "topics")
    asyncio.run(ensure_topics(settings))


if __name__ == "__main__":
    main()
