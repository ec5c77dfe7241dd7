//! The commitments service (being built): anchor charters, commitments, progress and roll-ups.
