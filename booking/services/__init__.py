"""Use cases: one async function each. They take a session, flush, and never commit."""
