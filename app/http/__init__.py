"""The HTTP shell: the ASGI application that serves the engine's files over HTTP.

Rules: it reads repositories only through what ``app.git`` exports; on the event loop it
makes only cheap or cached engine calls, and unbounded work (inflating, making a plan,
listings) runs in worker threads under the app's ``CapacityLimiter`` (``blobs`` states the
detail); header semantics live in pure modules (``ranges``, ``conditional``,
``negotiation``, ``cachecontrol``) that the handlers call.
"""
