"""Core of the CSS AI callback receiver: gateway, signature, settings, pipeline, sinks."""
