"""The nurse screening beside an alert: the form (`form`: validation, the `nurse_screenings` table) and its errors.

Nurses and providers may submit it (`app.roles`). No Flask, no FHIR.
"""
