"""Media work on sealed originals: probe, viewing copies, thumbnails, salvage (IN-3, IN-5)."""
