"""Withdrawal from the study: asked for by a participant from their own link, or recorded by a
researcher who heard from them by email or phone; erasure of answers when that is the scope."""
