"""`sentinel train`: train the risk model on set A (app.model.train), or with `--site-data`, adapt it to one
hospital's own history (app.model.site). The choice is made here, so neither module needs to import the other
back (site builds on train's steps)."""

from __future__ import annotations

import argparse

from app.model import site, train

add_arguments = train.add_arguments


def run(args: argparse.Namespace) -> int:
    if args.site_data is not None:
        return site.run(args)
    return train.run(args)
