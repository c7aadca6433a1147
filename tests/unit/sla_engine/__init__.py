"""Unit tests of the sla-engine domain modules."""
