"""Invitations and reminders by email: batches that resume, never send a second copy."""
