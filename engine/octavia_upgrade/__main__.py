from __future__ import annotations

from octavia_upgrade.cli import main

raise SystemExit(main())
