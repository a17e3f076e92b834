"""The review HTTP API."""
