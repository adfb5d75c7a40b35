"""Accounts: sign-in, sessions, invitations and the user's own profile."""
