"""The function's path of the CSS callback receiver: entry, gateway, auth, settings, pipeline, executor, sinks.

The operator's tools live in cssai.ops, which the Event Function never imports.
"""
