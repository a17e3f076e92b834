"""A typed client for the KIPP proposal ledger's intake API."""

from kipp_client.intake import Accepted, IntakeClient, Problem, ProposalView

__all__ = ["Accepted", "IntakeClient", "Problem", "ProposalView"]
