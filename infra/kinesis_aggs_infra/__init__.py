"""CDK app (aws-cdk-lib v2) of the Kinesis aggregates consumer: see docs/deploy-aws.md."""
