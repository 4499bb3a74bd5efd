"""Tickets around the pure core (``callcenter/core/tickets``): the workflow file, the store's place
in the server, the SLA job and the API (docs/tickets.md)."""
