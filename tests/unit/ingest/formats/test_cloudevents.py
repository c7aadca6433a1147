"""CloudEvents 1.0 in its three HTTP modes, data held to the generic events' rules."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ingest.formats import cloudevents
from ingest.formats.base import FormatError
from ingest.formats.mapping import CloudEventsMapping
from pacta.events import MonitoringEvent, TicketEvent
from tests.unit.ingest.formats.conftest import NOW, dump, load, raw

M = CloudEventsMapping()
STRUCTURED = {"content-type": "application/cloudevents+json; charset=utf-8"}
BATCH = {"content-type": "application/cloudevents-batch+json"}


def test_structured_event_id_defaults_to_the_cloudevent_id() -> None:
    (event,) = cloudevents.parse(raw("cloudevents/structured-monitoring.json"), STRUCTURED, M, NOW)
    assert isinstance(event, MonitoringEvent)
    assert event.id == "nw-8812-000417"
    assert (event.service, event.check, event.status) == ("checkout", "replication-lag", "firing")
    assert event.source == "cloudevents"


def test_a_batch_mixes_kinds_and_time_stands_in_for_occurred_at() -> None:
    mon, tick = cloudevents.parse(raw("cloudevents/batch.json"), BATCH, M, NOW)
    assert isinstance(mon, MonitoringEvent)
    assert isinstance(tick, TicketEvent)
    assert tick.id == "zd-35512-0007"
    assert tick.occurred_at == datetime(2026, 3, 2, 8, 20, tzinfo=UTC)


def test_binary_mode_reads_percent_encoded_headers_and_no_content_type() -> None:
    data = load("cloudevents/structured-monitoring.json")["data"]
    headers = {
        "ce-specversion": "1.0",
        "ce-id": "bin%20001",
        "ce-source": "/nightwatch",
        "ce-type": "io.pacta.monitoring",
    }
    (event,) = cloudevents.parse(dump(data), headers, M, NOW)
    assert event.id == "bin 001"
    data["id"] = "own-id"
    (event,) = cloudevents.parse(
        dump(data), {**headers, "content-type": "application/json"}, M, NOW
    )
    assert event.id == "own-id"


@pytest.mark.parametrize(
    ("change", "field", "status"),
    [
        ({"specversion": "0.3"}, "specversion", 422),
        ({"type": "com.example.other"}, "type", 422),
        ({"id": ""}, "id", 422),
        ({"source": None}, "source", 422),
        ({"datacontenttype": "text/plain"}, "datacontenttype", 415),
        ({"data": "text"}, "data", 422),
        ({"data_base64": "e30="}, "data_base64", 422),
    ],
)
def test_structured_errors_name_the_attribute(
    change: dict[str, object], field: str, status: int
) -> None:
    event = {**load("cloudevents/structured-monitoring.json"), **change}
    with pytest.raises(FormatError) as info:
        cloudevents.parse(dump(event), STRUCTURED, M, NOW)
    assert (info.value.field, info.value.status) == (field, status)


def test_data_is_held_to_the_generic_rules_naming_the_path() -> None:
    event = load("cloudevents/structured-monitoring.json")
    event["data"]["occurred_at"] = "2026-03-02T08:14:58"  # no offset: strict here
    with pytest.raises(FormatError) as info:
        cloudevents.parse(dump(event), STRUCTURED, M, NOW)
    assert info.value.field == "data.occurred_at"
    batch = load("cloudevents/batch.json")
    del batch[1]["data"]["service"]
    with pytest.raises(FormatError) as info:
        cloudevents.parse(dump(batch), BATCH, M, NOW)
    assert info.value.field == "1.data.service"


def test_other_modes_and_missing_headers() -> None:
    with pytest.raises(FormatError) as info:
        cloudevents.parse(b"{}", {"content-type": "application/cloudevents+avro"}, M, NOW)
    assert info.value.status == 415
    with pytest.raises(FormatError) as info:
        cloudevents.parse(b"{}", {"content-type": "application/json"}, M, NOW)
    assert info.value.field == "ce-specversion"
    with pytest.raises(FormatError) as info:
        cloudevents.parse(b"{}", BATCH, M, NOW)
    assert info.value.field == "body"


@pytest.mark.parametrize("time", ["yesterday", "2026-13-02T08:14:58Z", "2026-03-02T08:14:58", 17])
def test_an_invalid_time_is_refused_even_with_occurred_at_in_the_data(time: object) -> None:
    event = load("cloudevents/structured-monitoring.json")
    event["time"] = time
    assert "occurred_at" in event["data"]
    with pytest.raises(FormatError) as caught:
        cloudevents.parse(dump(event), STRUCTURED, M, NOW)
    assert caught.value.field == "time"


def test_an_invalid_time_header_is_refused_in_binary_mode() -> None:
    data = load("cloudevents/structured-monitoring.json")["data"]
    headers = {
        "ce-specversion": "1.0",
        "ce-id": "b1",
        "ce-source": "/nightwatch",
        "ce-type": "io.pacta.monitoring",
        "ce-time": "not a time",
    }
    with pytest.raises(FormatError) as caught:
        cloudevents.parse(dump(data), headers, M, NOW)
    assert caught.value.field == "ce-time"
