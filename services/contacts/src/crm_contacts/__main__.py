from crm_contacts import bootstrap
from crmkit.service import run

run(bootstrap.spec())
