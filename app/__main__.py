"""``python -m app`` runs the ``packserve`` command."""

import sys

from app.cli import main

sys.exit(main())
