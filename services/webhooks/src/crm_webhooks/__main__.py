from crm_webhooks import bootstrap
from crmkit.service import run

run(bootstrap.spec())
