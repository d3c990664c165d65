"""Benchmarks that start Plaudit as a user would and print figures against DESIGN §11."""
