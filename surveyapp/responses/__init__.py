"""Responses: a participant's answers to one survey version, saved section by section."""
