"""The query model and its text form."""
