"""Background screening: every patient on the site's chosen units scored on a schedule, nobody having to open a
chart. `census` (who), `window` (what is new since the last read), `cycle` (one screening of everyone), `history`
(what each cycle and scoring recorded), `scheduler` (the demo's in-process schedule) and `tasks` (procrastinate on
PostgreSQL for production, `sentinel worker`). Scoring goes through `app.assessment`, the same path as the page.
"""
