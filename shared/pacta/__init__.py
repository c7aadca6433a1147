"""pacta package."""
