"""The evidence vault: encrypted, versioned per-case documents."""
