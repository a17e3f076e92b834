"""A typed client for the KIPP proposal ledger's intake API."""

from kipp_client.calls import Accepted, Page, Problem, ProposalView
from kipp_client.intake import AsyncIntakeClient, IntakeClient

__all__ = ["Accepted", "AsyncIntakeClient", "IntakeClient", "Page", "Problem", "ProposalView"]
