"""Widgets the screens are built from; each owns its own .tcss next to it or in app.tcss."""
