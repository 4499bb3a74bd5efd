"""Messaging: the service, conversation routing, the channels and the outbox."""
