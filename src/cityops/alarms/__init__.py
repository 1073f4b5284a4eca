"""Rules and alarms of the perception layer (感知层): rules over device readings, alarms with
their lifecycle, and alarm → case through the cases module's public intake."""
