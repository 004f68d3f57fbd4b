from crm_marketing import bootstrap
from crmkit.service import run

run(bootstrap.spec())
