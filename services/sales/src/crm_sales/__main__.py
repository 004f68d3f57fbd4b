from crm_sales import bootstrap
from crmkit.service import run

run(bootstrap.spec())
