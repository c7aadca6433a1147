"""Entry point: `python -m ingest` serves the ingest API on PACTA_INGEST_PORT."""

from ingest.app import create_app
from ingest.settings import IngestSettings
from pacta.serve import serve

if __name__ == "__main__":
    settings = IngestSettings()
    serve(create_app(settings), settings, "ingest", settings.ingest_port)
