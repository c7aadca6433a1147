"""Pacta's benchmarks (`python -m bench`, `make bench`): the service levels of docs/benchmarks.md, measured.

Each benchmark builds its own environment (database, topic prefix, processes), drives real load
with wrk, checks that nothing acknowledged went missing, prints a table against the targets and
writes the full result as JSON under var/bench/. See docs/benchmarks.md.
"""
