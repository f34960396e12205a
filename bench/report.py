"""What every benchmark says about its run: the machine, how busy it was, the commit measured."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def machine() -> str:
    """CPUs, Python, SQLAlchemy, the platform and the load: a report's first line."""
    import sqlalchemy as sa

    return (
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, SQLAlchemy "
        f"{sa.__version__}, {platform.platform()}; {load()}"
    )


def load() -> str:
    """Other work on the machine skews every number; say how busy it was ("load average 1m 5m
    15m", which read_path's tables split)."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


def revision() -> str:
    """The commit measured, and whether the app's files differ from it."""
    git = shutil.which("git")
    if git is None:
        return "an unknown revision (no git)"
    commit = subprocess.run(  # noqa: S603 -- git, fixed arguments
        [git, "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()
    dirty = subprocess.run(  # noqa: S603 -- git, fixed arguments
        [git, "status", "--porcelain", "--", "community", "migrations", "templates"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return f"commit {commit or '?'}" + (" with uncommitted changes to the app" if dirty else "")
