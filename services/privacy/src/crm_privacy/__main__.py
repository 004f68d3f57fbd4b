from crm_privacy import bootstrap
from crmkit.service import run

run(bootstrap.spec())
