"""Dagster resources: the DuckDB warehouse, the raw bucket and the API clients. EnvVar lives here only."""


import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource
from pydantic import PrivateAttr

from . import warehouse
from .bucket import Bucket
from .resolution import store
from .resolution.catalog import SEMANTIC_QUERY_BUDGET
from .resolution.encoders import NAME_ENCODER, TEXT_ENCODER
from .sources.http import RetryPolicy
from .sources.lastfm_api import DEFAULT_BASE_URL, DEFAULT_MIN_INTERVAL_S, LastfmClient
from .sources.spotify_api import DEFAULT_API_URL, DEFAULT_TOKEN_URL, SpotifyClient


def home_path(configured: str) -> Path:
    """The Timbral home: as configured, else TIMBRAL_HOME, else .timbral under the working directory (the
    repo root under `dagster dev`, as under make). Read when a run uses it, never at import time."""
    return Path(configured or os.environ.get("TIMBRAL_HOME") or Path.cwd() / ".timbral").resolve()


def from_env(configured: str, variable: str) -> str:
    """An optional setting: as configured, else the environment variable, else empty. Optional settings
    are no dg.EnvVar, which fails a run's config whenever the variable is unset."""
    return configured or os.environ.get(variable, "")


class WarehouseResource(DuckDBResource):
    """dagster-duckdb's DuckDBResource over the warehouse file under TIMBRAL_HOME, with what Timbral adds:
    UTC sessions, memory limits that spill instead of taking the machine, a polite wait (naming the holder)
    while another process holds the file, and the schemas and raw tables created once per run rather than
    on every connection. Open it only inside an asset that holds the duckdb_write pool."""

    database: str = ""  # empty: TIMBRAL_HOME/warehouse.duckdb
    timbral_home: str = ""  # empty: TIMBRAL_HOME (see home_path)
    memory_limit: str = warehouse.DEFAULT_MEMORY_LIMIT  # for loads; DuckDB spills to disk beyond this
    transform_memory_limit: str = warehouse.TRANSFORM_MEMORY_LIMIT  # for the SQL models
    # another process (a reader, the DuckDB CLI) holding the file: wait this long, then fail naming it
    lock_wait_s: float = 600.0
    _layout_created: bool = PrivateAttr(default=False)

    @property
    def path(self) -> Path:
        return Path(self.database).resolve() if self.database else home_path(self.timbral_home) / "warehouse.duckdb"

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Record which process executes the run (runs launched by the UI or a schedule too), so that if
        it dies, the next entry point can mark the run failed and free its pool slot."""
        from .run_control import PID_TAG, process_tags

        run, instance = context.dagster_run, context.instance
        if run is not None and instance is not None and PID_TAG not in run.tags:
            instance.add_run_tags(run.run_id, process_tags())

    @contextlib.contextmanager
    def get_connection(self, transform: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection with the load memory limit, or the SQL models' larger one when `transform`."""
        limit = self.transform_memory_limit if transform else self.memory_limit
        con = warehouse.connect(self.path, memory_limit=limit, wait_s=self.lock_wait_s,
                                config=dict(self.connection_config))
        try:
            if not self._layout_created:
                warehouse.create_layout(con)
                store.ensure_tables(con)
                self._layout_created = True
            yield con
        finally:
            con.close()


class BucketResource(dg.ConfigurableResource):
    """Where raw pages and files land unchanged. Empty url = TIMBRAL_HOME/bucket; any fsspec URL works."""

    timbral_home: str = ""
    url: str = ""  # empty: TIMBRAL_BUCKET_URL, else TIMBRAL_HOME/bucket

    def bucket(self) -> Bucket:
        return Bucket(from_env(self.url, "TIMBRAL_BUCKET_URL") or str(home_path(self.timbral_home) / "bucket"))


class LastfmResource(dg.ConfigurableResource):
    api_key: str = ""
    base_url: str = DEFAULT_BASE_URL
    max_attempts: int = 6
    base_delay_s: float = 1.0
    min_interval_s: float = DEFAULT_MIN_INTERVAL_S

    def client(self) -> LastfmClient:
        return LastfmClient(from_env(self.api_key, "LASTFM_API_KEY"), self.base_url,
                            RetryPolicy(max_attempts=self.max_attempts, base_delay_s=self.base_delay_s),
                            self.min_interval_s)


class SpotifyResource(dg.ConfigurableResource):
    client_id: str = ""
    client_secret: str = ""
    token_url: str = DEFAULT_TOKEN_URL
    api_url: str = DEFAULT_API_URL
    max_attempts: int = 6
    base_delay_s: float = 1.0

    def client(self) -> SpotifyClient:
        return SpotifyClient(from_env(self.client_id, "SPOTIFY_CLIENT_ID"),
                             from_env(self.client_secret, "SPOTIFY_CLIENT_SECRET"), self.token_url, self.api_url,
                             RetryPolicy(max_attempts=self.max_attempts, base_delay_s=self.base_delay_s))


class MlflowResource(dg.ConfigurableResource):
    """MLflow tracking: TIMBRAL_HOME/mlflow.db (sqlite) with artifacts beside it unless a URI is given."""

    timbral_home: str = ""
    tracking_uri: str = ""

    def tracker(self):
        from .tracking import Tracker

        return Tracker.for_home(home_path(self.timbral_home), self.tracking_uri)


class EnrichmentResource(dg.ConfigurableResource):
    """The label hunter's outside sources. Both are off unless configured (TIMBRAL_MUSICBRAINZ_URL, e.g.
    https://musicbrainz.org/ws/2, and TIMBRAL_STORE_URL): then only titles are read, and tracks wait as
    pending rather than failing. Responses and pages are cached in the bucket."""

    musicbrainz_url: str = ""
    store_url: str = ""
    user_agent: str = ""  # empty: Timbral's own, "Timbral/<version> ( <url> ; <contact> )"
    musicbrainz_interval_s: float = 1.0  # MusicBrainz allows one request per second
    musicbrainz_jitter_s: float = 0.1
    store_delay_s: float = 1.0  # the store's robots.txt Crawl-delay wins when longer

    def has_remote_source(self) -> bool:
        return bool(from_env(self.musicbrainz_url, "TIMBRAL_MUSICBRAINZ_URL") or from_env(self.store_url, "TIMBRAL_STORE_URL"))

    def hunter(self, bucket: Bucket):
        from .enrichment.hunter import LabelHunter
        from .enrichment.musicbrainz import DEFAULT_USER_AGENT, MusicBrainzClient
        from .enrichment.scraper import StoreScraper

        agent = self.user_agent or DEFAULT_USER_AGENT
        mb_url = from_env(self.musicbrainz_url, "TIMBRAL_MUSICBRAINZ_URL")
        store_url = from_env(self.store_url, "TIMBRAL_STORE_URL")
        return LabelHunter(
            MusicBrainzClient(mb_url, agent, self.musicbrainz_interval_s, self.musicbrainz_jitter_s, cache=bucket)
            if mb_url else None,
            StoreScraper(store_url, agent, self.store_delay_s, cache=bucket) if store_url else None)


class ResolutionResource(dg.ConfigurableResource):
    """Entity-resolution settings, and the sentence encoders (resolution/encoders.py: `<model>[@torch|onnx-int8|
    static]`, the model the packaged all-MiniLM-L6-v2 or a local folder such as a fine-tuned one). The embedding
    cache and the trained splink model live under TIMBRAL_HOME."""

    timbral_home: str = ""
    encoder_model: str = NAME_ENCODER  # the resolver's semantic tier: names
    # track texts (track_text_embedding and mood_model, which must agree): names, tags and review snippets
    text_encoder_model: str = TEXT_ENCODER
    semantic_tier: bool = True
    # residual strings one batch searches by embedding (~5 ms each here); see catalog.find_candidates
    semantic_query_budget: int = SEMANTIC_QUERY_BUDGET
    # the registered version of the MLflow model track_matcher that scores pairs: "latest" or a number
    matcher_version: str = "latest"
    # quality floors, checked by resolution_report where a truth exists (the synthetic world); blocking
    tracks_f1_floor: float = 0.95
    max_false_merge_rate: float = 0.01
    rules_file: str = ""  # empty: the packaged default rules
    # a head from `timbral train-context-head`: combines splink, embedding cosine and listening context
    context_head_file: str = ""

    def encoder(self, required: bool = False):
        """The sentence encoder with its cache; None when the semantic tier is off, unless `required`."""
        from .resolution.embeddings import TextEncoder

        if not self.semantic_tier and not required:
            return None
        return TextEncoder(self.encoder_model, self.embedding_cache())

    def text_encoder(self, model: str = ""):
        """The encoder of track texts (`model` when given) over the shared embedding cache."""
        from .resolution.embeddings import TextEncoder

        return TextEncoder(model or self.text_encoder_model, self.embedding_cache())

    def embedding_cache(self):
        from .resolution.embeddings import EmbeddingCache

        return EmbeddingCache(home_path(self.timbral_home) / "embeddings.duckdb")

    def context_head(self):
        from .resolution.context_head import ContextHead

        return ContextHead.load(Path(self.context_head_file)) if self.context_head_file else None


def default_resources() -> dict[str, dg.ConfigurableResource]:
    """Resources that read the environment when a run uses them: TIMBRAL_HOME (default .timbral),
    TIMBRAL_BUCKET_URL, LASTFM_API_KEY, SPOTIFY_CLIENT_ID/SECRET, all optional. A plain `dagster dev`
    from the repo root therefore runs everything the Makefile does."""
    return {
        "warehouse_db": WarehouseResource(),
        "bucket": BucketResource(),
        "lastfm": LastfmResource(),
        "spotify": SpotifyResource(),
        "mlflow": MlflowResource(),
        "resolution": ResolutionResource(),
        "enrichment": EnrichmentResource(),
    }


def local_resources(timbral_home: str | Path, **overrides) -> dict[str, dg.ConfigurableResource]:
    """Resources for one explicit home folder: tests, benchmarks and the CLI."""
    home = str(timbral_home)
    resources = {
        "warehouse_db": WarehouseResource(timbral_home=home),
        "bucket": BucketResource(timbral_home=home),
        "lastfm": LastfmResource(),
        "spotify": SpotifyResource(),
        "mlflow": MlflowResource(timbral_home=home),
        "resolution": ResolutionResource(timbral_home=home),
        "enrichment": EnrichmentResource(),
    }
    resources.update(overrides)
    return resources
