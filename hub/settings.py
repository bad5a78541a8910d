"""Settings from ``HUB_*`` environment variables and an optional ``hub.toml``; bad values fail at start-up."""

from __future__ import annotations

import secrets
from enum import StrEnum
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from auth.federation import TrustedIssuer


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class Settings(BaseSettings):
    """Everything the hub can be told; each field is ``HUB_<NAME>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="HUB_", toml_file="hub.toml", extra="forbid")

    env: Environment = Environment.DEVELOPMENT
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    state_dir: Path = Path(".local")  # local Neo4j, signing keys, SQLite file: all ignored by git

    # Neo4j: a given URI (neo4j:// routes in a cluster and works on one server), or the local server
    neo4j_uri: str | None = None
    neo4j_user: str = "neo4j"
    neo4j_password: SecretStr | None = None
    neo4j_database: str = "neo4j"
    neo4j_bolt_port: int = Field(default=7687, ge=1, le=65535)
    neo4j_http_port: int | None = Field(default=None, ge=1, le=65535)
    # sized for a 2-core 24 GiB machine: room for the large seed's store in the page cache
    neo4j_heap: str = Field(default="3g", pattern=r"^\d+[kmgKMG]$")
    neo4j_pagecache: str = Field(default="4g", pattern=r"^\d+[kmgKMG]$")
    # faults: how long the driver waits to open a connection and to get one from its pool, the longest any
    # transaction may run in Neo4j (db.transaction.timeout of the local server too), and a GraphQL request's
    # whole allowance, handed to its transactions so a slow query is stopped inside Neo4j
    neo4j_connect_timeout_seconds: float = Field(default=5.0, gt=0, le=120)
    neo4j_acquire_timeout_seconds: float = Field(default=10.0, gt=0, le=600)
    neo4j_transaction_timeout_seconds: int = Field(default=120, ge=1, le=86_400)
    graphql_timeout_seconds: float = Field(default=30.0, gt=0, le=3600)
    # a watchdog asks Neo4j "RETURN 1" this often, with this timeout: a frozen or stopped Neo4j is then
    # answered 503 UNAVAILABLE on every route within seconds, and /readyz tells it at once
    neo4j_probe_interval_seconds: float = Field(default=1.0, gt=0, le=60)
    neo4j_probe_timeout_seconds: float = Field(default=2.0, gt=0, le=60)

    # HTTP (hub serve): a client must send its request line and headers within this time and this size, an idle
    # keep-alive connection is closed after this time, and past this many connections and requests at once the
    # hub answers 503 instead of queueing without end
    http_header_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    http_keep_alive_seconds: float = Field(default=5.0, gt=0, le=300)
    http_max_header_bytes: int = Field(default=32_768, ge=4096, le=1_048_576)
    http_max_concurrency: int = Field(default=500, ge=1, le=100_000)
    # "json": one JSON object per log line (one line per request, with its request id); "text": for people
    log_format: Literal["text", "json"] = "text"
    # browser partner apps allowed to call the hub from their pages, e.g. ["https://app.partner.example"];
    # none by default (the bearer token, not cookies, is the credential, so CORS only opens reading answers)
    cors_origins: list[str] = []
    # OpenTelemetry traces of every request (the opentelemetry-sdk must be installed: pip install '.[tracing]');
    # exported over OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT only when that variable is set
    tracing: bool = False

    # the member portal's built files (npm run build in portal/); default: portal/dist beside the hub's packages
    portal_dir: Path | None = None
    sql_url: str | None = None  # default: SQLite file in state_dir; postgresql+psycopg://... in production
    graphiql: bool | None = None  # default: on in development
    max_page_size: int = Field(default=100, ge=1, le=10_000)
    max_query_depth: int = Field(default=12, ge=2, le=50)
    # what one GraphQL document may ask for, checked before it runs (resolvers/limits.py): QUERY_TOO_COMPLEX
    max_tokens: int = Field(default=4_000, ge=100, le=1_000_000)
    max_aliases: int = Field(default=50, ge=0, le=10_000)
    max_field_duplicates: int = Field(default=10, ge=1, le=10_000)
    max_directives: int = Field(default=50, ge=0, le=10_000)
    max_query_cost: int = Field(default=25_000, ge=1, le=100_000_000)
    query_cost_list_size: int = Field(default=10, ge=1, le=10_000)  # a list's size in the cost when not given
    graphql_cache_size: int = Field(default=256, ge=0, le=100_000)  # parsed and validated query texts kept
    # reads of known shapes answered by one compiled Cypher query each (resolvers/compiled.py); off: the resolvers
    compiled_reads: bool = True
    # which operation texts run (resolvers/documents.py): only those registered with `hub documents add`
    # (default: in production), and Automatic Persisted Queries (default: outside production)
    trusted_documents_only: bool | None = None
    persisted_queries: bool | None = None
    # schema introspection and "Did you mean ...?" in error messages (default: outside production)
    introspection: bool | None = None
    field_suggestions: bool | None = None
    # requests per second (and burst) for each API client (issuer + subject) and each member firm; 0: off.
    # Shared (the default): counted for all hub processes together through the SQL store (hub/shared_rate_limits.py);
    # else kept per process, each of several processes then allowing this many
    rate_limit_shared: bool = True
    rate_limit_window_seconds: int = Field(default=10, ge=1, le=3600)  # the shared cap's window
    rate_limit_client_per_second: float = Field(default=50.0, ge=0)
    rate_limit_client_burst: int = Field(default=200, ge=1)
    rate_limit_firm_per_second: float = Field(default=200.0, ge=0)
    rate_limit_firm_burst: int = Field(default=800, ge=1)
    # request bodies, refused with 413 while they are read; EPCIS capture has HUB_EPCIS_MAX_DOCUMENT_MB
    max_body_kb: int = Field(default=1024, ge=1, le=1_048_576)
    max_upload_mb: int = Field(default=21, ge=1, le=10_240)  # GraphQL multipart (importSpreadsheet's file)
    max_readings_body_mb: int = Field(default=8, ge=1, le=1024)  # POST /haccp/readings (5,000 readings)
    # how long a firm's permission decision is reused (auth.decisions.DecisionCache): a change made through this
    # process counts from the next request, one made through another process within this many seconds; 0: off
    decision_cache_seconds: float = Field(default=5.0, ge=0, le=60)
    # how long firm, site and product profiles (public to members) are reused (resolvers.loaders.ProfileCache)
    profile_cache_seconds: float = Field(default=30.0, ge=0, le=3600)
    # how often a process looks at the SQL store's change counter, which every hub process moves after a write,
    # to drop kept decisions and profiles another process made stale (auth.changes); 0: before every request
    shared_change_check_seconds: float = Field(default=0.25, ge=0, le=60)

    # the built-in token issuer (client credentials for firms without an identity provider, and local use)
    issuer_enabled: bool = True
    issuer_url: str | None = None  # default: http://<host>:<port>
    token_audience: str = "food-cluster-hub"  # noqa: S105 (an audience name, not a secret)
    token_ttl_seconds: int = Field(default=3600, ge=60, le=86_400)
    # member firms' own OpenID Connect providers; HUB_TRUSTED_ISSUERS is a JSON list of these objects
    trusted_issuers: list[TrustedIssuer] = []
    # clock skew tolerated on a token's exp, nbf and iat, for every issuer
    token_leeway_seconds: int = Field(default=30, ge=0, le=300)
    # the token endpoint: failed secrets lock one client out from one address; secret hashing (scrypt) for all
    # callers together is bounded in concurrency and per second, refused past that with 429
    oauth_lockout_failures: int = Field(default=10, ge=1, le=10_000)
    oauth_lockout_seconds: int = Field(default=300, ge=1, le=86_400)
    # failures counted for all hub processes together in the SQL store (hub/sign_in_failures.py), else per process
    oauth_lockout_shared: bool = True
    oauth_secret_checks_per_second: float = Field(default=20.0, gt=0, le=10_000)
    oauth_concurrent_secret_checks: int = Field(default=4, ge=1, le=256)
    # people signing in at the built-in issuer (hub users ...; hub/sign_in.py): the portal's public client and
    # its exact redirect URIs (default: the portal's /auth/callback, /auth/silent and /auth/popup on the issuer's
    # origin), an account locked after this many failed sign-ins
    # in this window (counted for all hub processes), Argon2id's cost (older hashes redone at the next sign-in),
    # the lifetime of people's access tokens and of a sign-in's refresh tokens, and the key of the sign-in
    # form's CSRF token (default: a secret in the state folder)
    portal_client_id: str = Field(default="portal", pattern=r"^[A-Za-z0-9._-]{1,100}$")
    portal_redirect_uris: list[str] = []
    sign_in_lockout_failures: int = Field(default=5, ge=1, le=1000)
    sign_in_lockout_seconds: int = Field(default=900, ge=1, le=86_400)
    password_hash_time_cost: int = Field(default=3, ge=1, le=20)
    password_hash_memory_kib: int = Field(default=65_536, ge=8_192, le=1_048_576)
    person_token_ttl_seconds: int = Field(default=900, ge=60, le=86_400)
    refresh_token_ttl_seconds: int = Field(default=36_000, ge=60, le=2_592_000)
    sign_in_secret: SecretStr | None = None
    # keys opaque ids of redacted records: stable per caller, meaningless to anyone else
    redaction_secret: SecretStr | None = None

    # EPCIS capture: the largest document accepted, events per batch inside a capture's transaction, and
    # whether the cluster operator's admin may capture events naming sites, products and lots the hub has
    # never seen (they are then registered as unverified placeholders of the operator's firm)
    epcis_max_document_mb: int = Field(default=512, ge=1, le=10_240)
    epcis_batch_size: int = Field(default=500, ge=1, le=10_000)
    # events per Neo4j transaction: a document up to this size is all or nothing even for graph-level errors
    epcis_transaction_events: int = Field(default=20_000, ge=1, le=1_000_000)
    epcis_register_unknown: bool = False
    # what one document may make the hub hold, checked while it streams (graph_schema/epcis/limits.py says why)
    epcis_max_depth: int = Field(default=32, ge=8, le=512)
    epcis_max_event_values: int = Field(default=100_000, ge=100, le=10_000_000)
    epcis_max_event_kb: int = Field(default=1024, ge=1, le=102_400)
    # events in one captured document: announced as GS1-EPCIS-Capture-Limit, a document with more is refused
    epcis_max_document_events: int = Field(default=1_000_000, ge=1, le=100_000_000)
    # capture jobs running at once, per firm and in all, and bytes spooled (received, not yet captured) per firm
    epcis_max_jobs_per_firm: int = Field(default=4, ge=1, le=1000)
    epcis_max_jobs: int = Field(default=16, ge=1, le=10_000)
    epcis_max_spool_mb_per_firm: int = Field(default=1024, ge=1, le=1_048_576)
    # the GS1 EPCIS XSDs XML capture is checked against (hub/epcis_xsd.py): default .local/epcis-xsd-<version> of
    # the repository, fetched there from Maven Central on first use; the hub does not start without them
    epcis_xsd_dir: Path | None = None

    # events people are told about (hub/notifications.py): how often each process polls the outbox for events
    # other processes published (its own wake it at once), and how webhook deliveries are attempted: each
    # attempt times out after webhook_timeout_seconds; a failed one is retried after webhook_retry_base_seconds,
    # doubling up to webhook_retry_max_seconds, until webhook_max_attempts attempts have failed
    notifications_poll_seconds: float = Field(default=0.5, gt=0, le=60)
    notifications_sweep_seconds: float = Field(default=30.0, gt=0, le=3600)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    webhook_max_attempts: int = Field(default=10, ge=1, le=50)
    webhook_retry_base_seconds: float = Field(default=10.0, gt=0, le=3600)
    webhook_retry_max_seconds: float = Field(default=3600.0, gt=0, le=86_400)
    webhook_concurrency: int = Field(default=32, ge=1, le=200)
    # an open websocket is closed at its token's expiry (4401), and when the API client whose token opened it
    # is revoked (4403): the revocation is looked up this often per connection
    websocket_recheck_seconds: float = Field(default=15.0, gt=0, le=3600)
    # inside one GraphQL websocket (hub/websocket_limits.py): messages per second and at once (past them it is
    # closed with 4429), operations running at once (one more subscribe gets an error), a message's largest size
    # (max_body_kb, as an HTTP body)
    websocket_messages_per_second: float = Field(default=20.0, ge=0, le=10_000)
    websocket_message_burst: int = Field(default=100, ge=1, le=100_000)
    websocket_max_operations: int = Field(default=50, ge=1, le=10_000)

    # Smart HACCP readings (POST /haccp/readings): how far ahead of the hub's clock a reading's time may lie (a
    # gateway's clock drifts), the most readings one request may carry (its bytes: max_readings_body_mb), and how
    # long raw readings are kept before they are rolled up into hourly aggregates (hub haccp prune)
    haccp_clock_skew_seconds: int = Field(default=30, ge=0, le=3600)
    haccp_max_batch: int = Field(default=50_000, ge=1, le=1_000_000)
    haccp_retention_days: int = Field(default=730, ge=1, le=36_500)

    # Smart HACCP deviations: whether a deviation puts the lots made during it ON_HOLD (its closing corrective
    # action releases them), the grace after a CCP's monitoring interval before its silence is a
    # MISSED_MONITORING deviation, and how often the hub looks for silent CCPs (0: never)
    haccp_hold_on_deviation: bool = False
    haccp_missed_grace_seconds: int = Field(default=60, ge=0, le=86_400)
    haccp_sweep_seconds: float = Field(default=30.0, ge=0, le=3600)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    @model_validator(mode="after")
    def _production_needs_explicit_secrets(self) -> Self:
        if self.env is Environment.PRODUCTION:
            missing = [
                name
                for name, value in (
                    ("HUB_NEO4J_URI", self.neo4j_uri),
                    ("HUB_NEO4J_PASSWORD", self.neo4j_password),
                    ("HUB_REDACTION_SECRET", self.redaction_secret),
                    ("HUB_SQL_URL", self.sql_url),
                )
                if value is None
            ]
            if missing:
                raise ValueError(f"production needs {', '.join(missing)} to be set explicitly")
        return self

    @property
    def neo4j_home(self) -> Path:
        """Home folder of the locally managed Neo4j server."""
        return self.state_dir / "neo4j"

    @property
    def uses_local_neo4j(self) -> bool:
        """True when the hub starts and manages its own Neo4j server."""
        return self.neo4j_uri is None

    @property
    def graphiql_enabled(self) -> bool:
        """GraphiQL in the browser: on in development unless switched off."""
        return self.env is Environment.DEVELOPMENT if self.graphiql is None else self.graphiql

    @property
    def runs_trusted_documents_only(self) -> bool:
        """Only registered operations run: on in production unless switched off."""
        if self.trusted_documents_only is None:
            return self.env is Environment.PRODUCTION
        return self.trusted_documents_only

    @property
    def persisted_queries_enabled(self) -> bool:
        """Automatic Persisted Queries (a hash remembered from a text sent once): off in production."""
        return self.env is not Environment.PRODUCTION if self.persisted_queries is None else self.persisted_queries

    @property
    def introspection_enabled(self) -> bool:
        """Schema introspection: off in production unless switched on."""
        return self.env is not Environment.PRODUCTION if self.introspection is None else self.introspection

    @property
    def field_suggestions_enabled(self) -> bool:
        """graphql-core's "Did you mean ...?": off in production unless switched on."""
        return self.env is not Environment.PRODUCTION if self.field_suggestions is None else self.field_suggestions

    @property
    def database_url(self) -> str:
        """The SQL side store: a SQLite file by default."""
        return self.sql_url or f"sqlite:///{self.state_dir / 'hub.db'}"

    @property
    def issuer(self) -> str:
        """The built-in issuer's identifier (the ``iss`` of its tokens)."""
        return self.issuer_url or f"http://{self.host}:{self.port}"

    def local_secret(self, name: str) -> str:
        """A secret kept in the state folder (created on first use, owner-only), for development machines."""
        path = self.state_dir / "secrets" / name
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            path.write_text(secrets.token_urlsafe(32))
            path.chmod(0o600)
        return path.read_text().strip()

    @property
    def portal_redirects(self) -> list[str]:
        """The exact redirect URIs of the portal's public client."""
        origin = self.issuer.rstrip("/")
        return self.portal_redirect_uris or [f"{origin}/auth/{page}" for page in ("callback", "silent", "popup")]

    def sign_in_key(self) -> bytes:
        """The key of the sign-in form's CSRF and second-step tokens."""
        if self.sign_in_secret is not None:
            return self.sign_in_secret.get_secret_value().encode()
        return self.local_secret("sign-in").encode()

    def redaction_key(self) -> bytes:
        """The key behind opaque ids of redacted records."""
        if self.redaction_secret is not None:
            return self.redaction_secret.get_secret_value().encode()
        return self.local_secret("redaction").encode()
