"""The event-bus suite: ``base`` holds the behaviour, ``test_memory`` and ``test_kafka`` mix it with a bus."""
