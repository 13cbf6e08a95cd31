from advocacy_ambassadors.models import metadata
from advocacy_shared.migrations import run_env

run_env(metadata)
