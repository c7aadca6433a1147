"""Every service's OpenAPI document, as served by the running stack, held to its word by
schemathesis: for every operation it lists (whatever the document has), bounded valid and invalid
examples, sent with the admin key, must never answer 5xx and must answer only status codes the
document declares for that operation."""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import status_code_conformance

from tests.support.client import ADMIN_KEY
from tests.support.processes import ServiceProcess

pytestmark = pytest.mark.e2e
SERVICES = ("ingest", "sla_engine", "alerting", "reporting")
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "20"))
"""Per operation and mode: the whole file stays within a couple of minutes on two cores (set
SCHEMATHESIS_EXAMPLES higher to dig deeper by hand)."""
AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}


def _run(operation: schemathesis.APIOperation, mode: GenerationMode, base_url: str) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate(
            base_url=base_url,
            headers=AUTH,
            checks=[not_a_server_error, status_code_conformance],
            timeout=15,
        )

    check()


@pytest.fixture(scope="module")
def stack(own_stack: dict[str, ServiceProcess]) -> dict[str, ServiceProcess]:
    """A stack of this module's own: the examples ask for reports over every service (any
    format), which on the suite's shared database means thousands of services."""
    return own_stack


@pytest.mark.parametrize("service", SERVICES)
def test_openapi_document_holds(stack: dict[str, ServiceProcess], service: str) -> None:
    base_url = stack[service].url
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _run(operation, mode, base_url)
            except Unsatisfiable:
                continue  # nothing to get wrong (no parameters, no body): no negative case
            except (Exception, BaseExceptionGroup) as exc:
                found = "\n".join(str(exc).splitlines()[:14])
                failures.append(
                    f"{operation.method.upper()} {operation.path} ({mode.value}): {found}"
                )
    assert operations, f"{service} documents no operation"
    assert not failures, "\n\n".join(failures)
