"""gunicorn's configuration module for `sentinel serve` (`-c python:app.ops.gunicorn_conf`): server hooks and
logging only; the bind address, workers, threads and keep-alive come on the command line."""

from app.config import load_settings
from app.ops import logs, metrics

_settings = load_settings()
logconfig_dict = logs.gunicorn_logconfig(_settings.log_format, _settings.log_level) or {}


def child_exit(server, worker) -> None:
    """A worker ended (restarted, killed, timed out): its metric files stop counting as a live process."""
    metrics.worker_exited(worker.pid)


# gunicorn 25.1+ opens a control socket at a fixed path in $HOME by default: two instances on one host would
# fight over it, and nothing here uses it. (Older releases ignore a setting they do not know.)
control_socket_disable = True
