"""Benchmarks that start Plaudit as a user would and print figures against their targets."""
