"""Tasks: versioned benchmark definitions, their splits and data fractions."""
