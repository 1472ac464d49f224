"""``runner import opsworks``: an OpsWorks Stacks stack, read from CloudFormation templates or saved
``aws opsworks describe-*`` output, written as a runner stack.yml and a MIGRATION.md."""
