"""Wire dialects: one module per API shape polymux speaks, shared by the providers that send
it and the gateway front doors that serve it.

A dialect module holds the dialect's vocabulary (stop reasons, error types, ...) and its
translations to and from the provider-neutral forms (``types``): OpenAI-shaped chat
parameters in, ``ChatCompletion`` / ``ChatCompletionChunk`` out. Layer: above ``types`` and
``errors``, below providers, client and server; pure functions, no I/O.
"""
