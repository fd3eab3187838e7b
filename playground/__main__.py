"""``python -m playground``: no arguments opens the app; a sub-command runs the CLI."""

from playground.cli import main

raise SystemExit(main())
