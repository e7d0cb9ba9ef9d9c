"""ladder engine: everything that is not UI (never imports textual)."""

import os

# torch and llama.cpp run their CPU threads with OpenMP, whose threads spin while they wait for
# each other. When another process takes a core, the spinning thread stalls the one sharing that
# core at every barrier: on the shared 2-core machine, with a neighbour busy on one core, a
# 2-thread llama.cpp decode of 14-32 tokens took 45-90 s instead of 3-9 s, and a torch
# forward+backward of the 0.5B model 65-82 s instead of 9-12 s. Sleeping waiters ("PASSIVE") gave
# the one-thread times there (bench/ttrl_start.py: TTRL's first step 131 s -> 28 s); on an idle
# machine they add a thread wake-up per barrier. Set here, before torch or llama.cpp load their
# OpenMP runtime; an OMP_WAIT_POLICY already in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
