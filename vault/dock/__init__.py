"""Docking: camera profiles now; udev monitoring, mounting and the station loop later."""
