"""Automount folders (config dock.watch_dirs), for stations where the desktop mounts cameras.

A folder that appears in a watched directory (e.g. /media/officer/ZFY001) is given a moment
to settle, and then taken like a docked camera, with its profile recognised from its files.
The dock did not mount it, so it neither mounts nor remounts it: erasing works only where
the desktop mounted it writable.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from watchdog.events import DirCreatedEvent, FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from vault.dock.daemon import DockDaemon

log = logging.getLogger(__name__)


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
        if path.is_mount():
            self.daemon.take_folder(path)
        elif path.is_dir() and any(p.is_mount() for p in path.iterdir() if p.is_dir()):
            return  # a per-user folder: its mounted children come as their own events

    def stop(self) -> None:
        self.observer.stop()
        self.observer.join(timeout=5)
