"""Media stores: where the bytes of an asset live (in place on disk, or in Amazon S3)."""
