"""Search: full-text search over public questions and their replies."""
