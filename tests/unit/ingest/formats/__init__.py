"""Unit tests of the native format adapters."""
