"""Malware scanning: every stored version is scanned by clamd before anyone but its uploader opens it."""
