from registry.devca.api import DevCAFiles
from registry.domains import Domain

# No tables: the test CA's keys live in the data directory and its revocations are the registry's own.
DOMAIN = Domain(name="devca", pages=[DevCAFiles])
