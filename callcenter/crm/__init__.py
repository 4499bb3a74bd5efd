"""CRM sync: signed outbound webhooks with a delivery log (docs/webhooks.md)."""
