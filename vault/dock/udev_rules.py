"""udev rules for the dock, made from the installed profiles.

They tag each known camera `evidence_vault` (so `udevadm info` shows it is ours) and tell
the desktop not to mount it (UDISKS_IGNORE): only the dock mounts cameras, read-only.
`evault dock udev-rules > /etc/udev/rules.d/70-evidence-vault.rules` installs them;
udev/70-evidence-vault.rules is the copy for the built-in profiles.
"""

from __future__ import annotations

from vault.profiles import Profile

HEADER = """\
# Evidence Vault: body cameras known to the dock (made by `evault dock udev-rules`).
# Tagged for the dock and hidden from desktop automounting: only evault-dock mounts them,
# read-only. Cameras matched only by volume label are recognised by the dock itself.
"""


def udev_rules(profiles: dict[str, Profile]) -> str:
    lines = [HEADER]
    for profile in sorted(profiles.values(), key=lambda p: p.name):
        for usb in profile.match.usb:
            product = f', ATTRS{{idProduct}}=="{usb.product_id}"' if usb.product_id else ""
            ids = f'ATTRS{{idVendor}}=="{usb.vendor_id}"{product}'
            lines.append(f"# {profile.name}: {profile.description}")
            lines.append(
                f'SUBSYSTEM=="block", {ids}, TAG+="evidence_vault", '
                f'ENV{{UDISKS_IGNORE}}="1", ENV{{EVAULT_PROFILE}}="{profile.name}"'
            )
            if profile.driver:
                # The camera before it shows its storage: the dock talks to it over USB.
                lines.append(
                    f'SUBSYSTEM=="usb", ENV{{DEVTYPE}}=="usb_device", {ids}, '
                    f'TAG+="evidence_vault", ENV{{EVAULT_PROFILE}}="{profile.name}", '
                    'MODE="0660", GROUP="evault"'
                )
    return "\n".join(lines) + "\n"
