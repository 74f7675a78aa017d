# The console's one line per job start (Snakemake prints a rule's message in place of its
# inputs and outputs); included last, when every rule exists.
for rule_ in workflow.rules:
    if not rule_.message:
        rule_.message = job_message(rule_)
