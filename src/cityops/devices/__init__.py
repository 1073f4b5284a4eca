"""The perception layer's devices: types, registration, credentials, telemetry and health."""
