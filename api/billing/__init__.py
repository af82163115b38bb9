"""Customer billing: tariffs, bills and bill forecasts, usage profiles, saving advice, demand analysis."""
