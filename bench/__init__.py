"""The packserve benchmark: packserve against its peers, side by side, on loopback.

Run it with ``python -m bench`` (see ``bench/README.md``). One concept per module:
``plan`` (the run's parameters), ``gitenv`` (deterministic git invocations), ``repo``
(the realistic repository), ``synthetic`` (the start-up repositories), ``corpus`` (the
expected bytes), ``apps`` (the Python contenders), ``nginx`` (its configuration),
``contenders`` (starting and stopping servers), ``workloads``, ``verify``, ``wrk``,
``noise`` (foreign load), ``coldstart``, ``memory``, ``pyspy``, ``report`` and ``run``
(the command). ``engine`` is a separate micro-benchmark of the engine alone.
"""
