from crm_privacy.tables import metadata
from crmkit.migrations import run_env

run_env(metadata)
