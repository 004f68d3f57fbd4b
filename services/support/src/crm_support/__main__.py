from crm_support import bootstrap
from crmkit.service import run

run(bootstrap.spec())
