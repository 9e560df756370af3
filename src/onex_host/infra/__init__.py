"""Transports and handlers: everything below the protocol seam."""
