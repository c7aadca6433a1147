"""Entry point: `python -m reporting` serves the reporting API on PACTA_REPORTING_PORT."""

from pacta.serve import serve
from reporting.app import create_app
from reporting.settings import ReportingSettings

if __name__ == "__main__":
    settings = ReportingSettings()
    serve(create_app(settings), settings, "reporting", settings.reporting_port)
