"""Builders and drivers: envelopes, contracts, hosted nodes, host processes, topics, scratch tables."""
