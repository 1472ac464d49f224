"""The ec2 provider for runner: stack instances as EC2 instances, found again by their tags."""

__version__ = "0.1.0"
