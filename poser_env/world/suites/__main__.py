"""``python -m poser_env.world.suites``: generate, ``--check`` or ``--stats`` the prompt suites."""

from poser_env.world.suites.cli import main

raise SystemExit(main())
