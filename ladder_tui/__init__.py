"""The Textual app of `ladder`: solve integrals, watch training live, browse and export runs.

It talks to the engine only through events (engine/runs/events.py): a child process `ladder engine …`
for live work, or a run's events.jsonl for replays. Nothing here imports torch or the verifier.
"""
