"""Hotkeys from the terminal when there is no window: stdin read raw, key by key, on its own thread."""
from __future__ import annotations

import os
import select
import sys
import termios
import threading
import tty
from typing import Callable

TERMINAL_NAMES = {"\x1b": "esc", " ": "space", "\t": "tab", "\r": "enter", "\n": "enter", "\x7f": "backspace"}


class TerminalKeys(threading.Thread):
    """Calls on_key(name) for every key typed; restores the terminal on stop()."""

    def __init__(self, on_key: Callable[[str], None], stream=None):
        super().__init__(name="terminal-keys", daemon=True)
        self.on_key = on_key
        self.fd = (stream or sys.stdin).fileno()
        self._halt = threading.Event()
        self._saved = None

    @staticmethod
    def available(stream=None) -> bool:
        stream = stream or sys.stdin
        return stream is not None and stream.isatty()

    def start(self) -> None:
        self._saved = termios.tcgetattr(self.fd)
        tty.setcbreak(self.fd)  # keys arrive one by one, Ctrl-C still interrupts
        super().start()

    def run(self) -> None:
        while not self._halt.is_set():
            ready, _, _ = select.select([self.fd], [], [], 0.1)
            if not ready:
                continue
            char = os.read(self.fd, 1).decode(errors="ignore")
            if char:
                self.on_key(TERMINAL_NAMES.get(char, char))

    def stop(self) -> None:
        self._halt.set()
        if self._saved is not None:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
            self._saved = None
