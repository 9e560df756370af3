"""Attacks on the Kafka command topic: fuzzed records, reply_to abuse."""
