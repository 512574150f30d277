"""Sending: editions, deliveries, transports, the send rate, and readers' notices."""
