"""Secure messaging: one thread per case between the client and the case's
attorney team, and one with each sponsor; bodies encrypted at rest."""
