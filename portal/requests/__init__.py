"""Document requests: the firm asks, the client or a sponsor uploads, the firm reviews."""
