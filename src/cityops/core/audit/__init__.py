"""Audit trail: who did what, when, to which subject, with the state before and after."""
