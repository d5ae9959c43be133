"""Cases, retention classes, holds and the purge job (RT-1..RT-5, IN-4)."""
