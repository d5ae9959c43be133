# STAND-IN (core owns this file)
"""The web console (stand-in of the core helper's package, for the pages' own tests)."""
