"""The retail platform package: command line and ingestion jobs."""
