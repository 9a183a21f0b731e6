"""SQLAlchemy models. Queries in ``dikte.db.store`` return plain objects, never these rows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class PersonRow(Base):
    __tablename__ = "people"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[float] = mapped_column(Float)
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    tier: Mapped[str] = mapped_column(String(100), default="free")
    # "issuer|subject" of an external login provider (OIDC), for people who sign in there
    external_subject: Mapped[str | None] = mapped_column(String(500), nullable=True, unique=True)


class TokenRow(Base):
    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[float] = mapped_column(Float)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    scopes: Mapped[str] = mapped_column(String(100), default="read write admin")  # space-separated
    expires_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    last_used_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class WebSessionRow(Base):
    """A signed-in browser: the cookie holds a random id, the database only its SHA-256."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    session_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[float] = mapped_column(Float)
    last_seen: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    # what the sign-in may do (a browser signed in with a read-only token stays read-only)
    scopes: Mapped[str] = mapped_column(String(100), default="read write admin")


class RuntimeRow(Base):
    __tablename__ = "runtimes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    notebook_path: Mapped[str] = mapped_column(String(4096))
    image: Mapped[str] = mapped_column(String(200))
    backend: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[float] = mapped_column(Float)
    ended_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    end_reason: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    backend_state: Mapped[dict[str, Any]] = mapped_column(JSON)
    # the notebook's execution state: {"running": {"cell_id", "msg_id"} | None, "queued": [cell ids]}
    exec_state: Mapped[dict[str, Any]] = mapped_column(JSON)
    shape: Mapped[str] = mapped_column(String(100), default="standard")
    background: Mapped[bool] = mapped_column(Boolean, default=False)
    # accelerator devices allocated to it (ids as the allocator names them)
    devices: Mapped[list[str]] = mapped_column(JSON, default=list)


class SecretRow(Base):
    """A person's secret (Colab's Secrets panel): the value only as AES-GCM ciphertext."""

    __tablename__ = "secrets"
    __table_args__ = (UniqueConstraint("person_id", "name", name="uq_secrets_person_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    # nonce (12 bytes) + ciphertext + tag; see dikte.db.secrets
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class SecretGrantRow(Base):
    """One notebook (by drive path) allowed to read one secret."""

    __tablename__ = "secret_grants"
    __table_args__ = (UniqueConstraint("secret_id", "notebook_key",
                                       name="uq_secret_grants_secret_notebook"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    secret_id: Mapped[int] = mapped_column(ForeignKey("secrets.id", ondelete="CASCADE"))
    notebook_path: Mapped[str] = mapped_column(String(4096))
    # SHA-256 of the path: unique together with the secret, whatever the path's length
    notebook_key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(Float)


class InvitationRow(Base):
    """A single-use link an administrator made for someone new; only the code's SHA-256 is kept."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), index=True)  # the name they will have
    tier: Mapped[str] = mapped_column(String(100))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    invited_by: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float)
    used_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    revoked_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    # who accepted it (the person it created)
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), nullable=True)


class SignInFailureRow(Base):
    """One failed sign-in for one key (a name or a client address), kept for the rate limit's
    window; in the database so every server process counts the same and a restart forgets none."""

    __tablename__ = "sign_in_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), index=True)  # SHA-256 of "name:x"/"addr:y"
    at: Mapped[float] = mapped_column(Float, index=True)
