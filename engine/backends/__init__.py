"""Text generation backends behind one interface (see base.py)."""
