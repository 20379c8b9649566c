"""medipersona: data-grounded patient personas for Japanese clinics."""

__version__ = "0.1.0"
