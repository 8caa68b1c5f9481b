"""People of the agencies: holders of certificates and users of the registry."""
