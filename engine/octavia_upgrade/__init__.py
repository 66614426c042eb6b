"""octavia-upgrade: declarative, resumable upgrades of OpenStack Octavia."""

from __future__ import annotations

__version__ = "0.1.0"
