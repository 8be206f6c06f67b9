"""Verdicts: shared expectations (expect.py) and how checks combine (verdict.py)."""
from .expect import (All, AnyOf, ConnectionError, Connections, Custom, Exercised, Expectation,
                     Fails, Ignored,
                     NotSent, Report, Retried, Sent, StreamError, Succeeds,
                     TransferSucceeds)
from .verdict import Check, ClientOutcome, Evidence, Outcome, Verdict, combine

__all__ = ["All", "AnyOf", "Check", "ClientOutcome", "ConnectionError", "Connections", "Custom",
           "Evidence", "Exercised", "Expectation", "Fails", "Ignored", "NotSent", "Outcome", "Report", "Retried",
           "Sent", "StreamError", "Succeeds", "TransferSucceeds", "Verdict", "combine"]
