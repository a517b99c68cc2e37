"""Order sync connector: platform orders in, one model, allocation over locations, fulfilment, write-back."""

__version__ = "0.1.0"
