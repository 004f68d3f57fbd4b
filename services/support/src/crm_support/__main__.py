from crm_support.bootstrap import SPEC
from crmkit.service import run

run(SPEC)
