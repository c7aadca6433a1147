"""The routes' dependencies: the engine's context, built in the lifespan."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from sla_engine.context import EngineContext


def _context(request: Request) -> EngineContext:
    context = request.app.state.context  # the one attribute the lifespan sets for the routes
    if not isinstance(context, EngineContext):
        raise RuntimeError("the sla-engine's lifespan has not built its context")
    return context


Context = Annotated[EngineContext, Depends(_context)]
