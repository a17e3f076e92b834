"""The intake HTTP API."""
