"""智能派单 (intelligent dispatch): classify citizen messages into the city's case categories, route
confident ones automatically, learn from the dispatchers' corrections."""
