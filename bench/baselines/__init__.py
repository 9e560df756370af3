"""Echo services the onex host is measured against: the same topics, payloads and commit rule."""
