"""Omnichannel: customers and conversations."""
