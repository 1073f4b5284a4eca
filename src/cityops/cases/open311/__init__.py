"""Open311 GeoReport v2 on /open311/v2, over the case loop."""
