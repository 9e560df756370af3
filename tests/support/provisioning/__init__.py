"""The real backing services a test session starts or finds: how each is provided and reached."""
