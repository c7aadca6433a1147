"""The reporting service's functional core: periods, figures and report assembly (no I/O)."""
