"""Entry point: `python -m sla_engine` serves the engine on PACTA_SLA_ENGINE_PORT."""

from pacta.serve import serve
from sla_engine.app import create_app
from sla_engine.settings import EngineSettings

if __name__ == "__main__":
    settings = EngineSettings()
    serve(create_app(settings), settings, "sla-engine", settings.sla_engine_port)
