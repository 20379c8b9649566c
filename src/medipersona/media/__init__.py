"""Shared media: portraits kept where every instance reads them (the database, or an S3-compatible bucket),
addressed by their content hash and served from immutable URLs."""
