"""The HTTP API: routes for calendars, policies and windows, their versions, and the live views."""
