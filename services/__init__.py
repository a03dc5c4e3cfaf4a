"""Hearth's domain: use cases as plain async functions. Never imports discord."""
