"""Bounces and complaints: reading reports, acting on them, the mailbox and relay webhooks."""
