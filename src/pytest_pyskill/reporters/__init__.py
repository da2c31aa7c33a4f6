"""Reporters: each turns the session's findings into one output format."""
