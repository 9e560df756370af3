"""Stand-ins for the world outside the host (a legacy node, an OpenAI-compatible API, a TCP proxy,
scripted Kafka clients): used where a unit test needs one, never as evidence that an integration works."""
