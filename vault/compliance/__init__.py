"""Checks that a recording is what the rules require: narration, sessions, gaps (RC-1..RC-5)."""
