"""Disc images of an export package (EV-2): two copies, each labelled with the making body
(制作单位: the bureau and its unit), maker, date and case name and number, as ISO 9660 with
Joliet and Rock Ridge (readable anywhere). The label's words come from the message
catalogue (vault.i18n): Chinese by default."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from vault import i18n
from vault.errors import VaultError
from vault.i18n import N_, _

COPIES = 2


class DiscError(VaultError):
    """xorriso is missing or could not write an image."""


def label_text(
    unit: str,
    maker: str,
    date: str,
    case: str,
    copy: int,
    bureau: str | None = None,
    language: str | None = None,
) -> str:
    """The words printed on disc `copy`: 制作单位 is the bureau (access.bureau_name) with
    its unit; a value the records lack is a line to write on."""
    blank = "＿" * 8
    with i18n.speaking(language):
        if bureau and unit:
            body = _("{bureau}, {unit}").format(bureau=bureau, unit=unit)
        else:
            body = bureau or unit or blank
        lines = [
            _("Enforcement audio and video disc, copy {copy} of {copies}").format(
                copy=copy, copies=COPIES
            ),
            _("Made by (body): {body}").format(body=body),
            _("Made by (person): {maker}").format(maker=maker or blank),
            _("Date made: {date}").format(date=date or blank),
            _("Case (enforcement activity) name and number: {case}").format(case=case or blank),
        ]
    return "\n".join(lines) + "\n"


def volume_id(base: str, copy: int) -> str:
    """ISO 9660 volume ids are at most 32 upper-case letters, digits and underscores."""
    cleaned = re.sub(r"[^A-Z0-9_]", "_", base.upper())[:26]
    return f"{cleaned}_C{copy}"


def write_images(
    package: Path,
    target: Path,
    base: str,
    unit: str,
    maker: str,
    date: str,
    case: str,
    bureau: str | None = None,
    language: str | None = None,
) -> list[Path]:
    """Write copy-1.iso and copy-2.iso (and their label texts) into target. The ISO volume
    descriptor only takes ASCII: the Chinese label travels as LABEL.TXT on the disc and as
    the label-copy-N.txt to print on it."""
    xorriso = shutil.which("xorriso")
    if xorriso is None:
        raise DiscError(
            N_("{option} needs xorriso: {command}"),
            option="--iso",
            command="apt-get install xorriso",
        )
    target.mkdir(parents=True, exist_ok=True)
    images = []
    for copy in range(1, COPIES + 1):
        text = label_text(unit, maker, date, case, copy, bureau, language)
        label = target / f"label-copy-{copy}.txt"
        label.write_text(text, encoding="utf-8")
        image = target / f"copy-{copy}.iso"
        # The disc holds the package and its own LABEL.TXT; iso/ itself is left out.
        command = [
            xorriso,
            "-as",
            "mkisofs",
            "-quiet",
            "-input-charset",
            "utf-8",
            "-J",
            "-joliet-long",
            "-R",
            "-V",
            volume_id(base, copy),
            "-A",
            "EVIDENCE VAULT EXPORT",
            "-o",
            str(image),
            "-m",
            target.name,
            "-graft-points",
            str(package),
            f"LABEL.TXT={label}",
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise DiscError(
                N_("xorriso could not write {path}: {problem}"),
                path=image,
                problem=done.stderr.strip()[-400:],
            )
        images.append(image)
    return images
