from registry.domains import Domain

DOMAIN = Domain(name="trust", piccolo_app="registry.trust.piccolo_app")
