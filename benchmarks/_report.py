"""Markdown output shared by the benchmark scripts."""

import os
import sys
from importlib.metadata import version


class Report:
    """Markdown lines, printed as they come and kept for --out."""

    def __init__(self):
        self.lines = []

    def __call__(self, *lines):
        for line in lines:
            print(line, flush=True)
            self.lines.append(line)

    def write(self, path, script):
        """Save the lines under a comment holding the command that made them
        (``script`` and this process's arguments) and the machine's versions."""
        command = " ".join([f"python benchmarks/{script}", *sys.argv[1:]])
        header = (
            f"<!-- {command} ({os.cpu_count()} CPU cores, torch {version('torch')}, "
            f"scikit-learn {version('scikit-learn')}) -->"
        )
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w") as f:
            f.write("\n".join([header, "", *self.lines]) + "\n")
