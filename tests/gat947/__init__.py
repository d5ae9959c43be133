"""The stand-in GA/T 947.4 camera library (C) and what the tests need to drive it."""
