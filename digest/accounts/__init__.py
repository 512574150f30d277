"""Accounts: the people who sign in to the admin, their sessions, login throttling, and the
audit log of what they did. Core code: no web, no CLI; functions take a Session, never commit.
"""
