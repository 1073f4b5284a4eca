"""MQTT infrastructure: the broker address, device topics, broker provisioning (the dynamic-security
plugin of Mosquitto) and the QoS 1 ingest worker. Knows nothing of devices or storage: the worker
hands batches of messages to a handler that the composition root wires.
"""
