"""The alert lifecycle: when an alert fires (policy, findings), how a provider decides it (workflow), where it
is kept (store, record), the site's threshold (thresholds), and what can go wrong (errors).

The SEP-1 bundle that follows a confirmed alert is `app.bundle`; the nurse screening beside it, `app.nursing`.
Neither is imported here.
"""
