"""The OpenAI-compatible proxy (docs/proxy.md).

`/proxy/{upstream}/{path}` forwards a call to a configured upstream unchanged, streaming or not,
and records it as a span with GenAI attributes:

- `headers`: what the caller's headers ask of Plaudit, and which headers go upstream and back;
- `genai`: the GenAI semantic-convention attributes of a call, from its request and answer;
- `answers`: reading an answer (whole or streamed as server-sent events) as it passes;
- `call`: what is settled before a call goes out: caller, upstream, span ids, token, feedback;
- `upstream`: the HTTP/1.1 client that talks to upstreams (pooled keep-alive connections);
- `forward`: the ASGI app that does the call, relays the answer and stores the span.
"""
