"""Readers: signup and confirmation, preferences, consent, erasure, imports and suppressions."""
