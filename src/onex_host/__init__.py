"""ONEX Runtime Host."""
