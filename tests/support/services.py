"""Backing-service fixtures (filled in by the services layer)."""
