"""Terminal renderables (rich); pure functions of state so redraws stay cheap."""
