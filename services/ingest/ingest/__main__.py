"""Entry point: `python -m ingest` serves the ingest API on PACTA_INGEST_PORT, with
PACTA_INGEST_WORKERS processes (one per core by default) sharing the port."""

from ingest.settings import IngestSettings

if __name__ == "__main__":
    settings = IngestSettings()
    workers = settings.worker_count()
    if workers > 1:
        from ingest.workers import serve_workers

        serve_workers(settings, workers)
    else:
        from ingest.app import create_app
        from pacta.serve import serve

        serve(create_app(settings), settings, "ingest", settings.ingest_port)
