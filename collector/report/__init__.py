"""Monthly infrastructure-readiness report: InfluxQL aggregations -> score -> XLSX, DOCX, PDF, HTML."""
