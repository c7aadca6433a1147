"""What alerting's routes depend on, as `Annotated` aliases (the FastAPI template's `deps.py`):
the service's `Context`, built in the lifespan."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from alerting.context import Context


async def context(request: Request) -> Context:  # async: a sync one hops to a thread
    """The container of the app serving this request: the one place that reads `app.state`."""
    ctx: Context = request.app.state.ctx
    return ctx


Ctx = Annotated[Context, Depends(context)]
