"""Intake: the HTTP API for submitting systems. Validates proposals and publishes their events."""
