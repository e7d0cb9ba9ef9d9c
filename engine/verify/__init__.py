"""Is a candidate the antiderivative (or the definite value)? The only judge of correctness.

parse (allow-list parser, the only door for untrusted text) -> answer (find the tagged answer)
-> check (the numerical decision) -> pool (worker processes with hard timeouts).
"""

from engine.verify.verifier import Verdict, check, verify, verify_many

__all__ = ["Verdict", "check", "verify", "verify_many"]
