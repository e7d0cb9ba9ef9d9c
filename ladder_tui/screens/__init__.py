"""The app's screens: solve, dashboard, runs, and the modal forms."""
