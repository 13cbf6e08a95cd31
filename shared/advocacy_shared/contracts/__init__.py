"""Every message the services exchange: events (facts) and requests (commands and queries)."""
