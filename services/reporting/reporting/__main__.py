"""Entry point: `python -m reporting` serves the reporting API on PACTA_REPORTING_PORT;
`python -m reporting rebuild` replays the topics into a fresh schema and swaps it in."""

import asyncio
import sys

from pacta.logs import configure_logging
from pacta.serve import serve
from reporting.app import create_app
from reporting.settings import ReportingSettings

if __name__ == "__main__":
    settings = ReportingSettings()
    if sys.argv[1:] == ["rebuild"]:
        from reporting.rebuild import rebuild

        configure_logging(settings.log_level)
        asyncio.run(rebuild(settings))
    elif sys.argv[1:]:
        sys.exit("usage: python -m reporting [rebuild]")
    else:
        serve(create_app(settings), settings, "reporting", settings.reporting_port)
