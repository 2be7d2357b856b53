"""Text-to-SQL core (work in progress)."""
