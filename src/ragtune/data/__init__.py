"""Typed records, readers/writers and validation for every kind of data ragtune uses."""
