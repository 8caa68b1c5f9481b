"""The certificate database: every certificate of the province with its holder, status and history."""
