"""Automount folders (config dock.watch_dirs), for stations where the desktop mounts cameras.

A folder that appears in a watched directory (e.g. /media/officer/ZFY001) is given a moment
to settle, and then taken like a docked camera, with its profile recognised from its files.
The dock did not mount it, so it neither mounts nor remounts it: erasing works only where
the desktop mounted it writable.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from watchdog.events import DirCreatedEvent, FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from vault.dock.daemon import DockDaemon
from vault.dock.mount import is_mounted

log = logging.getLogger(__name__)
MOUNT_WAIT_S = 10.0


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: DirWatcher) -> None:
        self.watcher = watcher

    def on_created(self, event: FileSystemEvent) -> None:
        if isinstance(event, DirCreatedEvent):
            self.watcher.appeared(Path(str(event.src_path)))


class DirWatcher:
    def __init__(self, daemon: DockDaemon, dirs: list[Path]) -> None:
        self.daemon = daemon
        self.dirs = dirs
        self.observer = Observer()

    def start(self) -> None:
        for directory in self.dirs:
            if not directory.is_dir():
                log.warning("watch_dirs: %s is not a directory; not watched", directory)
                continue
            # /media/LABEL or /media/USER/LABEL: two levels cover both desktops' habits.
            self.observer.schedule(_Handler(self), str(directory), recursive=True)
            for child in directory.iterdir():
                if child.is_dir():
                    self.appeared(child)
        self.observer.start()

    def appeared(self, path: Path) -> None:
        depth = min(len(path.relative_to(d).parts) for d in self.dirs if path.is_relative_to(d))
        if depth > 2:
            return
        timer = threading.Timer(self.daemon.settings.settle_s, self._take, (path,))
        timer.daemon = True
        timer.start()

    def _take(self, path: Path) -> None:
        # The desktop makes the folder first and mounts on it a moment later.
        deadline = time.monotonic() + MOUNT_WAIT_S
        while time.monotonic() < deadline and not self.daemon.stopping.is_set():
            if is_mounted(path):
                self.daemon.take_folder(path)
                return
            if not path.is_dir():
                return
            time.sleep(0.2)
        # Not mounted: a per-user folder (/media/USER), whose children come as their own events.

    def stop(self) -> None:
        self.observer.stop()
        self.observer.join(timeout=5)
