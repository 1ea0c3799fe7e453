"""Built-in app plugins."""
