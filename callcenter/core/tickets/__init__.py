"""Tickets, pure: ticket types and their templates, the workflow as data, routing, SLAs in business
hours. Nothing here awaits or reads a clock; every change is given its time (docs/tickets.md)."""
