"""SimplePractice source plugin: report downloads (CSV, XLSX, ZIP) read into encounter bundles."""
