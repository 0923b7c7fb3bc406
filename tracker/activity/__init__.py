"""The append-only activity log every feature writes: hash-chained events, one chain per
audit and a few shared ones (admin, library, signals)."""

from tracker.activity.chain import (
    AUDIT_CHAIN_PREFIX,
    GENESIS,
    SHARED_CHAINS,
    ChainProblem,
    audit_chain,
    event_hash,
    on_record,
    record,
    verify_all_chains,
    verify_chain,
)
from tracker.activity.models import ActivityChainHead, ActivityEvent

__all__ = ["AUDIT_CHAIN_PREFIX", "GENESIS", "SHARED_CHAINS", "ActivityChainHead",
           "ActivityEvent", "ChainProblem", "audit_chain", "event_hash", "on_record", "record",
           "verify_all_chains", "verify_chain"]
