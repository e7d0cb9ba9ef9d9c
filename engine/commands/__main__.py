"""`python -m engine.commands …` is `ladder …` (used by the app and tests to start the engine)."""

from engine.commands import main

main()
