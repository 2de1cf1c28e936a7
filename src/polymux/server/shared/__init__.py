"""State the gateway's processes and replicas share: per-key limit counters, provider
health, the response cache. Each piece has an in-process implementation (the default) and a
Redis one (``[state] redis``), behind one small interface; redis-py is imported only when
Redis is configured."""
