"""The query model of DESIGN §4 and its text form."""
