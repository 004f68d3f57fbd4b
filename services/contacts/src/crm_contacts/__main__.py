from crmkit.service import run
from crm_contacts.bootstrap import SPEC

run(SPEC)
