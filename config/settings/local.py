"""One-machine settings used by `make run`: DEBUG on, SQLite and eager jobs unless the env says otherwise."""

from config.env import env

from .base import *  # noqa: F403

DEBUG = env.bool("DEBUG", default=True)
