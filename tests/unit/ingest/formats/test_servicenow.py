"""ServiceNow incident snapshots: the default mapping, and lifecycle steps counted once by id."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ingest.formats import servicenow
from ingest.formats.base import FormatError
from ingest.formats.mapping import ServiceNowMapping
from pacta.events import TicketEvent
from tests.unit.ingest.formats.conftest import NOW, dump, load, raw

M = ServiceNowMapping()
SYS = "9d385017c611228701d22104cc95c371"


def parse(name: str, mapping: ServiceNowMapping = M) -> list[TicketEvent]:
    events = servicenow.parse(raw(f"servicenow/{name}.json"), {}, mapping, NOW)
    assert all(isinstance(e, TicketEvent) for e in events)
    return events  # type: ignore[return-value]


def steps(name: str) -> list[tuple[str, str]]:
    return [(e.action, e.id or "") for e in parse(name)]


def test_insert_is_created_with_the_defaults() -> None:
    (event,) = parse("insert")
    assert event.action == "created"
    assert event.ticket_id == "INC0031877"
    assert event.service == "Checkout"  # business_service's display value
    assert event.priority == "P2"
    assert event.status == "new"
    assert event.occurred_at == datetime(2026, 3, 2, 7, 20, 11, tzinfo=UTC)  # offset-less UTC
    assert event.id == f"servicenow-{SYS}-0"


def test_the_lifecycle_as_snapshots() -> None:
    assert steps("in-progress") == [
        ("updated", f"servicenow-{SYS}-1"),
        ("responded", f"servicenow-{SYS}-responded"),
    ]
    (hold,) = parse("on-hold-awaiting-caller")  # inside {"result": ...}
    assert (hold.action, hold.status) == ("updated", "waiting_for_customer")
    # back to 2: the responded event repeats its id, so the ingest counts it once
    assert steps("back-in-progress")[1] == ("responded", f"servicenow-{SYS}-responded")
    assert steps("resolved")[-1] == ("resolved", f"servicenow-{SYS}-resolved-0")
    assert [a for a, _ in steps("reopened")] == ["updated", "responded", "reopened"]
    assert steps("reopened")[-1][1] == f"servicenow-{SYS}-reopened-1"
    assert steps("resolved-again")[-1] == ("resolved", f"servicenow-{SYS}-resolved-1")
    assert steps("closed")[-1] == ("closed", f"servicenow-{SYS}-closed-1")


def test_service_falls_back_to_cmdb_ci_and_mapping_applies() -> None:
    record = load("servicenow/insert.json")
    record["business_service"] = ""
    (event,) = servicenow.parse(dump(record), {}, M, NOW)
    assert event.service == "checkout-lb-eu"
    mapping = ServiceNowMapping(
        service_fields=["u_service"],
        default_service="shop",
        customer_field="company",
        priorities={"2": "P1"},
        states={"1": "open"},
    )
    (event,) = servicenow.parse(dump(record), {}, mapping, NOW)
    assert isinstance(event, TicketEvent)
    assert (event.service, event.customer, event.priority, event.status) == (
        "shop",
        "Globex",
        "P1",
        "open",
    )


def test_a_state_the_mapping_does_not_know_passes_through() -> None:
    record = load("servicenow/in-progress.json")
    record["state"] = "9"
    (event,) = servicenow.parse(dump(record), {}, M, NOW)
    assert isinstance(event, TicketEvent)
    assert (event.action, event.status) == ("updated", "9")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"sys_id": ""}, "sys_id"),
        ({"number": None}, "number"),
        ({"sys_mod_count": "x"}, "sys_mod_count"),
        ({"sys_updated_on": "yesterday"}, "sys_updated_on"),
        ({"state": "", "incident_state": ""}, "state"),
        ({"business_service": "", "cmdb_ci": ""}, "business_service"),
        ({"reopen_count": "-1"}, "reopen_count"),
    ],
)
def test_bad_records_name_the_field(change: dict[str, object], field: str) -> None:
    record = {**load("servicenow/in-progress.json"), **change}
    with pytest.raises(FormatError) as info:
        servicenow.parse(dump(record), {}, M, NOW)
    assert info.value.field == field
    with pytest.raises(FormatError) as info:
        servicenow.parse(dump({"result": record}), {}, M, NOW)
    assert info.value.field == "result." + field


def _record(**fields: object) -> bytes:
    record = load("servicenow/insert.json")
    body = record.get("result", record)
    body.update(fields)
    return dump(record)


def test_a_reference_without_display_value_falls_through_to_cmdb_ci() -> None:
    # sent without sysparm_display_value=true: business_service is only a sys_id and a link
    body = _record(
        business_service={
            "link": "https://x/api/now/table/cmdb_ci_service/27d3",
            "value": "27d3f2a1",
        }
    )
    (event,) = servicenow.parse(body, {}, M, NOW)
    assert event.service == "checkout-lb-eu"


def test_a_plain_sys_id_is_no_service_name() -> None:
    body = _record(
        business_service="27d3f2a1c0a8000b1e8c9a3c4dd1f0ab", cmdb_ci={"display_value": "lb"}
    )
    (event,) = servicenow.parse(body, {}, M, NOW)
    assert event.service == "lb"


def test_no_display_value_anywhere_is_refused_naming_the_field() -> None:
    body = _record(
        business_service={"link": "https://x/a", "value": "27d3f2a1"},
        cmdb_ci={"link": "https://x/b", "value": "b0c4030ac0a800090088ac4de2ee1a0a"},
    )
    with pytest.raises(FormatError) as caught:
        servicenow.parse(body, {}, M, NOW)
    assert caught.value.field.endswith("business_service")
    assert "sysparm_display_value=true" in str(caught.value)
