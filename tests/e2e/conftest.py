"""Fixtures of the end-to-end tests: what the engine publishes, read from Kafka."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from pacta.events import FACTS_TOPIC, SIGNALS_TOPIC, topic_name
from pacta.settings import CommonSettings
from tests.support.kafka import TopicReader


@pytest.fixture
async def signals(settings: CommonSettings) -> AsyncIterator[TopicReader]:
    async with TopicReader(
        settings.kafka_bootstrap, topic_name(settings.topic_prefix, SIGNALS_TOPIC)
    ) as reader:
        yield reader


@pytest.fixture
async def facts(settings: CommonSettings) -> AsyncIterator[TopicReader]:
    async with TopicReader(
        settings.kafka_bootstrap, topic_name(settings.topic_prefix, FACTS_TOPIC)
    ) as reader:
        yield reader
