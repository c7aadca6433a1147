"""Native inbound formats (docs/integrations.md): one module per tool, each turning a raw request into the
generic monitoring and ticket events behind one signature (see `base.Adapter`)."""
