"""The docking station: udev events matched to camera profiles (vault.profiles), control
drivers, read-only mounts, the daemon's bays and status, and the device ledger. The dock
hands ingest a mounted volume and what it knows of the mount (DockContext); ingest never
imports the dock."""
