"""Operations around the HTTP service: several repositories, preview hosts, metrics,
access logs, readiness, warm-up and the process runner.

Rule: nothing here is on the engine's side of the layering; ``app.git`` never imports it.
"""
