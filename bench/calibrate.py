"""The box's speed today: a "Pacta-like ingest, no Kafka" as reference point.

`python -m bench.calibrate PORT` serves one FastAPI route, POST /v1/events/monitoring, that does
what the anchor measured (10,160 req/s on 1 worker, wrk -t1 -c32 on the same 2 vCPUs): parse one
object or an array with a pydantic TypeAdapter (AwareDatetime, literal enums), derive a sha256
id when `id` is missing, answer 202 with orjson. No auth, no PostgreSQL, no Kafka, no middleware.

The ingest benchmark runs it first: if this does far less than the anchor, the machine (or its
neighbours) is slower than the one the targets were set on, and every other number shrinks too.
"""

from __future__ import annotations

import hashlib
import sys
from typing import Literal

import orjson
import uvicorn
from fastapi import FastAPI, Request
from pydantic import AwareDatetime, BaseModel, TypeAdapter, ValidationError
from starlette.responses import Response


class Event(BaseModel):
    id: str | None = None
    occurred_at: AwareDatetime
    service: str
    check: str
    status: Literal["firing", "resolved"]
    severity: Literal["critical", "major", "minor", "warning", "info"] = "critical"
    summary: str | None = None
    source: str = "api"


ONE = TypeAdapter(Event | list[Event])
app = FastAPI()


@app.post("/v1/events/monitoring", status_code=202)
async def post(request: Request) -> Response:
    try:
        parsed = ONE.validate_json(await request.body())
    except ValidationError as exc:
        return Response(orjson.dumps({"errors": len(exc.errors())}), status_code=422)
    events = parsed if isinstance(parsed, list) else [parsed]
    ids = [
        e.id or "sha256-" + hashlib.sha256(orjson.dumps(e.model_dump(mode="json"))).hexdigest()[:40]
        for e in events
    ]
    body = {"accepted": len(ids), "duplicates": 0, "ids": ids}
    return Response(orjson.dumps(body), status_code=202, media_type="application/json")


@app.get("/readyz")
async def readyz() -> dict[str, str]:
    return {"status": "ready"}


if __name__ == "__main__":
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
    )
