from crm_webhooks.tables import metadata
from crmkit.migrations import run_env

run_env(metadata)
