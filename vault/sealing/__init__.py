"""What the WORM store keeps beside the bytes, so that a forged or lost database loses
nothing (issue 15): a seal record for every sealed object (seals.py) and the heads of the
audit chain and the access register (anchors.py)."""
