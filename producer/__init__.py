"""Trip producer: writes NYC-taxi trip records (and chosen unclean ones) to a Kinesis stream."""
