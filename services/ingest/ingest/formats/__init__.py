"""Native inbound formats (SPEC §3.3): one module per tool, each turning a raw request into the
generic events of SPEC §3.1/§3.2 behind one signature (see `base.Adapter`)."""
