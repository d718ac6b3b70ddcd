"""A fake ``RPi`` package for tests: only ``RPi.GPIO``, see GPIO.py. Never on a real path."""
