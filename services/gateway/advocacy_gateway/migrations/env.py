from advocacy_gateway.models import metadata
from advocacy_gateway.webhooks import models as webhook_models  # noqa: F401 (its tables)
from advocacy_shared.migrations import run_env

run_env(metadata)
