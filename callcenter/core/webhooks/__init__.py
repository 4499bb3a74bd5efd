"""CRM webhooks as data: which events exist, what one attempt's answer means (docs/webhooks.md)."""
