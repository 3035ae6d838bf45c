"""What a hospital's operations team watches: JSON logs (`logs`), Prometheus metrics (`metrics`), probes (`probes`).

No Flask here: `app/web/ops.py` binds these to requests and routes, `app/cli/serve.py` to gunicorn.
"""
