from crm_reporting import bootstrap
from crmkit.service import run

run(bootstrap.spec())
