"""Staff accounts: sign-in, roles, lockout, password changes, the admin's user pages."""
