"""Certificate and signature-specimen registry for the state agencies of Quảng Ninh."""

__version__ = "0.1.0"
