"""``auditor plan``: the AWS controls judge a Terraform plan (``terraform show -json``) before it is applied.

:mod:`.reader` reads the plan, :mod:`.facts` builds from it the facts the live AWS
collectors gather, :mod:`.run` runs the unchanged controls on them.
"""
