from crm_contacts.bootstrap import SPEC
from crmkit.service import run

run(SPEC)
