"""The ACD: agents, queues, the engine and its figures."""
