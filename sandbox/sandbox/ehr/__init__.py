"""The EHR's own screens: user and patient pickers, the chart that launches the app, the orders list."""
