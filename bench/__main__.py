"""``python -m bench``: see bench/README.md."""

from .runner import main

raise SystemExit(main())
