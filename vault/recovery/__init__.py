"""Holding the database to the WORM store (issue 15): `evault verify` (verify.py) checks
every fact against what the store sealed, the chains against their anchors (chains.py);
`evault store rebuild-index` (rebuild.py) makes the database again from the store alone."""
