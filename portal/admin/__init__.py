"""Administration: the firm's accounts."""
