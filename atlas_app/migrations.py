"""Running Alembic from code (the CLI, the app's tests)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from atlas_app.settings import PROJECT_ROOT


def alembic_config() -> Config:
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    return cfg


def upgrade_head() -> None:
    command.upgrade(alembic_config(), "head")
