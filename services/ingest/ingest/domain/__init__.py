"""The ingest's pure logic: no I/O, nothing that waits."""
