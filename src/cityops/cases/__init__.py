"""Cases: citizen reports and the unified handling loop."""
