"""Entry point: `python -m alerting` serves the alerting API on PACTA_ALERTING_PORT."""

from alerting.app import create_app
from alerting.settings import AlertingSettings
from pacta.serve import serve

if __name__ == "__main__":
    settings = AlertingSettings()
    serve(create_app(settings), settings, "alerting", settings.alerting_port)
