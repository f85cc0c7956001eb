"""Instruments: versioned, bilingual information sheets, consent forms and surveys."""
