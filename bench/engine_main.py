"""`python -m bench.engine_main`: the sla-engine exactly as `python -m sla_engine` runs it, except
that its consumer group is named after the topic prefix (`<prefix>-sla-engine`).

The engine's group is `pacta-sla-engine` whatever the prefix, so every engine on the broker (a
test run's, another benchmark's) is a member of one group: each one that starts or stops makes
all of them rebalance, and a rebalance revokes the benchmark engine's partitions, which drops
its clocks until the group settles. A benchmark must not measure other people's test runs.
"""

from __future__ import annotations

from typing import Any

import sla_engine.app as engine_app
from pacta.runtime import consumer_lifespan as _lifespan
from pacta.serve import serve
from sla_engine.settings import EngineSettings


def _own_group(settings: Any, **kwargs: Any) -> Any:
    kwargs["group"] = f"{settings.topic_prefix}-sla-engine"
    return _lifespan(settings, **kwargs)


if __name__ == "__main__":
    setattr(engine_app, "consumer_lifespan", _own_group)  # noqa: B010 (the app module's name)
    settings = EngineSettings()
    serve(engine_app.create_app(settings), settings, "sla-engine", settings.sla_engine_port)
